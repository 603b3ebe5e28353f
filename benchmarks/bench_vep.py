"""Variant-effect benchmark: `vep-cv` (position-blocked CV) on the shared labelled sets.

Tasks (each one `genomamba.evaluation.cross_validate_heads` run, all methods side by side:
logistic regression, gradient boosting and the MLP head on frozen features; zero-shot
-GM_LLR/-GM_DELTA of the model and, with --markov, of a Markov baseline; logistic regression on
the one-hot +-k bp sequence context, for each k of --context-baselines):

    ecoli_nonsense   E. coli MG1655 coding SNVs, CONSEQUENCE nonsense vs synonymous
    ecoli_missense   same file, missense vs synonymous
    ecoli_stop_lost  same file, stop-lost vs synonymous
    ecoli_start_lost same file, start-lost vs synonymous
    brca1            BRCA1 saturation genome editing (Findlay 2018), LABEL 1 (LOF) vs 0

    python benchmarks/bench_vep.py MODEL_DIR --data /work/shared/data --device cuda \
        --markov MARKOV_DIR --window 256 -o bench_vep_out/
    python benchmarks/bench_vep.py random-tiny --limit 200 --folds 2     # smoke test on a CPU

`--cache-dir DIR` keeps each task's features and zero-shot scores (the GPU work) in DIR
(`genomamba.evaluation.feature_cache`): a rerun after a killed fold stage, or with other fold,
head or baseline settings, reads them instead of running the models again.

MODEL_DIR may be `random-tiny`: an untrained CharMambaLM(d_model=16, n_layer=2) written to the
output directory (AUROC ~0.5: checks the pipeline, not a model). `--limit N` keeps a random N of
each task's labelled variants. Prints one markdown table (task x method, mean ± sd AUROC/AUPRC
over folds) and writes OUT/bench.json, OUT/bench.md and per task OUT/TASK/{metrics.json,
metrics.md, roc.png, predictions.tsv}.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from genomamba.atomic import atomic_write_text
from genomamba.evaluation import (
    cross_validate_heads,
    jsonable,
    mean_sd,
    method_label,
    write_cv_outputs,
)

TASKS = {
    # name: (variants, reference, label key, positive, negative, block size bp)
    "ecoli_nonsense": ("variants/ecoli_mg1655_consequences.vcf", "genomes/train/MG1655-K12.fasta.gz",
                       "CONSEQUENCE", ["nonsense"], ["synonymous"], 10_000),
    "ecoli_missense": ("variants/ecoli_mg1655_consequences.vcf", "genomes/train/MG1655-K12.fasta.gz",
                       "CONSEQUENCE", ["missense"], ["synonymous"], 10_000),
    "ecoli_stop_lost": ("variants/ecoli_mg1655_consequences.vcf", "genomes/train/MG1655-K12.fasta.gz",
                        "CONSEQUENCE", ["stop_lost"], ["synonymous"], 10_000),
    "ecoli_start_lost": ("variants/ecoli_mg1655_consequences.vcf", "genomes/train/MG1655-K12.fasta.gz",
                         "CONSEQUENCE", ["start_lost"], ["synonymous"], 10_000),
    # SGE covers ~13 BRCA1 exons: 2 kbp blocks keep each exon (and its neighbours) in one fold
    "brca1": ("variants/brca1_findlay2018.vcf", "variants/brca1_region_hg38.fa", "LABEL", ["1"], ["0"], 2_000),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="CharMambaLM model directory, or 'random-tiny'")
    p.add_argument("--data", default="/work/shared/data", help="shared data directory (genomes/, variants/)")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, of {', '.join(TASKS)}")
    p.add_argument("--markov", default=None, help="Markov model directory for its zero-shot scores")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--strands", choices=("forward", "both"), default="both")
    p.add_argument("--finetune-epochs", type=int, default=30, help="MLP head epochs on cached features")
    p.add_argument("--gbm-iter", type=int, default=200)
    p.add_argument("--context-baselines", default="3,10", help="k of the one-hot +-k bp context baselines ('none': skip)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--limit", type=int, default=None, help="random N labelled variants per task (smoke test)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads: torch's, and the BLAS/OpenMP threads of the folds' scikit-learn fits")
    p.add_argument("--cache-dir", default=None, help="read/write features and zero-shot scores here")
    p.add_argument("-o", "--outdir", default=None, help="default: a temporary directory")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    outdir = Path(args.outdir or tempfile.mkdtemp(prefix="bench_vep."))
    outdir.mkdir(parents=True, exist_ok=True)
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        p.error(f"unknown tasks {unknown}; known: {', '.join(TASKS)}")
    none = args.context_baselines.strip().lower() in ("", "none")
    contexts = () if none else tuple(int(k) for k in args.context_baselines.split(",") if k)

    model = args.model
    if model == "random-tiny":
        torch.manual_seed(args.seed)
        from genomamba.models import CharMambaLM, MambaConfig

        model = str(CharMambaLM(MambaConfig(d_model=16, n_layer=2)).save_pretrained(outdir / "random_tiny_model"))

    data = Path(args.data)
    results = {}
    for task in tasks:
        variants, reference, label, positive, negative, block = TASKS[task]
        t0 = time.perf_counter()
        res = cross_validate_heads(
            model, data / reference, data / variants, label=label, positive=positive, negative=negative,
            folds=args.folds, block_size=block, window=args.window, strands=args.strands, markov=args.markov,
            head_epochs=args.finetune_epochs, gbm_iter=args.gbm_iter, context_baselines=contexts,
            batch_size=args.batch_size, limit=args.limit, seed=args.seed, device=args.device,
            cache_dir=args.cache_dir,
        )
        write_cv_outputs(res, outdir / task, command=f"bench_vep.py task {task}")
        m = res.metrics
        results[task] = {"n_variants": m["n_variants"], "n_positive": m["n_positive"], "summary": m["summary"],
                         "seconds": time.perf_counter() - t0}
        print(f"{task}: {m['n_variants']} variants, {results[task]['seconds']:.1f} s", file=sys.stderr)

    table = _table(results)
    bench = {
        "benchmark": "vep_cv",
        "command": " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
        "model": args.model, "markov": args.markov,
        "settings": {k: getattr(args, k) for k in ("folds", "window", "strands", "finetune_epochs", "gbm_iter",
                                                     "context_baselines", "batch_size", "limit", "seed", "device",
                                                     "cache_dir")},
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "cpu_threads": torch.get_num_threads(),
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "results": results,
    }
    atomic_write_text(outdir / "bench.json", json.dumps(jsonable(bench), indent=2) + "\n")
    atomic_write_text(outdir / "bench.md", table)
    print(table)
    print(f"wrote {outdir}/bench.json, bench.md and one directory per task", file=sys.stderr)
    return 0


def _table(results: dict) -> str:
    lines = ["| task | n (pos) | method | AUROC | AUPRC |", "| --- | --- | --- | --- | --- |"]
    for task, r in results.items():
        for m, s in r["summary"].items():
            lines.append(f"| {task} | {r['n_variants']} ({r['n_positive']}) | {method_label(m)} | "
                         f"{mean_sd(s['auroc_mean'], s['auroc_sd'])} | {mean_sd(s['auprc_mean'], s['auprc_sd'])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
