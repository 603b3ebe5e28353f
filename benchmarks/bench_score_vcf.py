"""Variant-scoring benchmark: throughput (variants/s) and zero-shot AUROC on labelled SNVs.

Scores a labelled VCF/TSV with `genomamba.scoring.zero_shot.VariantScorer` (the engine behind
`genomamba-score vcf`), writes the scored VCF, and evaluates it with the code behind
`genomamba-score evaluate`: AUROC/AUPRC of GM_LLR and GM_DELTA for each positive class vs the
negative class (default nonsense and missense vs synonymous; lower score = more damaging).

    python benchmarks/bench_score_vcf.py MODEL_DIR \
        --fasta /work/shared/data/genomes/train/MG1655-K12.fasta.gz \
        --variants /work/shared/data/variants/ecoli_mg1655_consequences.vcf \
        --device cuda --window 8192 --batch-size 32 -o bench_out/
    python benchmarks/bench_score_vcf.py random-tiny --fasta ... --variants ... --limit 200   # sanity run

MODEL_DIR may be `random-tiny`: an untrained CharMambaLM(d_model=16, n_layer=1) (AUROC ~0.5;
throughput of the pipeline, not of a real model). Prints a markdown table and writes
`OUT/bench.json`, `OUT/scored.vcf.gz`, `OUT/metrics.json`, `OUT/roc.png`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import torch

from genomamba.atomic import atomic_write_text
from genomamba.evaluation import evaluate, write_evaluation
from genomamba.io.fasta import FastaReader
from genomamba.io.vcf import VcfWriter, read_variants
from genomamba.models.loading import load_model
from genomamba.scoring.zero_shot import FILTER_LINES, VariantScorer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model directory, or 'random-tiny'")
    p.add_argument("--fasta", required=True)
    p.add_argument("--variants", required=True)
    p.add_argument("--label", default="CONSEQUENCE", help="INFO key / TSV column with the class")
    p.add_argument("--positive", default="nonsense,missense")
    p.add_argument("--negative", default="synonymous")
    p.add_argument("--window", type=int, default=8192)
    p.add_argument("--strands", choices=("forward", "both"), default="forward")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--limit", type=int, default=None, help="first N records only")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("-o", "--outdir", default=None, help="default: a temporary directory")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    outdir = Path(args.outdir or tempfile.mkdtemp(prefix="bench_score_vcf."))
    outdir.mkdir(parents=True, exist_ok=True)

    if args.model == "random-tiny":
        from genomamba.models.config import MambaConfig
        from genomamba.models.lm import CharMambaLM

        torch.manual_seed(0)
        model_dir = CharMambaLM(MambaConfig(d_model=16, n_layer=1)).save_pretrained(outdir / "random_tiny_model")
    else:
        model_dir = Path(args.model)
    model = load_model(model_dir, args.device)
    genome = FastaReader(args.fasta)
    header, records = read_variants(args.variants)
    if args.limit is not None:
        records = islice(records, args.limit)
    scorer = VariantScorer(model, genome, window=args.window, strands=args.strands,
                           batch_size=args.batch_size, device=args.device)
    scored = outdir / "scored.vcf.gz"
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with VcfWriter(scored, header, scorer.info_header_lines(), FILTER_LINES, contigs=genome.lengths) as w:
        for rec in scorer.score(records):
            w.write(rec)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    s = scorer.stats

    metrics, fig = evaluate(scored, args.label, args.positive.split(","), args.negative.split(","), scorer.rules)
    write_evaluation(metrics, fig, outdir)

    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "device": f"{args.device} ({device_name}, torch threads {torch.get_num_threads()})",
        "model": str(args.model),
        "window": scorer.window, "strands": args.strands, "batch_size": args.batch_size,
        "records": s.records, "alleles_scored": s.alleles_scored, "ref_mismatch": s.ref_mismatch,
        "windows_scored": s.windows_scored, "seconds": round(dt, 3),
        "variants_per_s": round(s.records / dt, 2), "windows_per_s": round(s.windows_scored / dt, 2),
        "auroc": {c: {k: m["auroc"] for k, m in per.items()} for c, per in metrics["classes"].items()},
        "auprc": {c: {k: m["auprc"] for k, m in per.items()} for c, per in metrics["classes"].items()},
        "direction": metrics["direction"],
    }
    atomic_write_text(outdir / "bench.json", json.dumps(result, indent=1) + "\n")

    print(f"# bench_score_vcf  {result['date']}  {result['device']}")
    print(f"model {args.model}, window {scorer.window}, strands {args.strands}, batch {args.batch_size}")
    print(f"{s.records} records, {s.alleles_scored} alleles, {s.ref_mismatch} REF mismatches, "
          f"{s.windows_scored} windows in {dt:.2f} s: {result['variants_per_s']} variants/s, "
          f"{result['windows_per_s']} windows/s\n")
    print("| class vs " + args.negative + " | score | AUROC | AUPRC | n pos | n neg |")
    print("| --- | --- | --- | --- | --- | --- |")
    for cname, per in metrics["classes"].items():
        for sname, m in per.items():
            fmt = lambda x: "n/a" if x is None else f"{x:.4f}"  # noqa: E731
            print(f"| {cname} | {sname} | {fmt(m['auroc'])} | {fmt(m['auprc'])} | {m['n_pos']} | {m['n_neg']} |")
    print(f"\nwrote {outdir}/bench.json, scored.vcf.gz, metrics.json, roc.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
