"""State-cached vs whole-window variant scoring: variants/s and score equality on E. coli SNVs.

Scores the first N SNVs of a VCF with `VariantScorer(state_cache=True)` (the default of
`genomamba-score vcf`: each ref window run once, each ALT from the ref state at the allele) and
with `state_cache=False` (`--no-state-cache`: every alt window whole), at each window width, and
checks that the two give the same GM_LLR and GM_DELTA.

    python benchmarks/bench_vcf_state_cache.py --device cuda --n 5000 --out state_cache_gpu.json
    python benchmarks/bench_vcf_state_cache.py --device cpu --n 200 --d-model 64 --n-layer 4 --out cpu.json

The model is a random-init CharMambaLM (--d-model x --n-layer; speed does not depend on training)
unless --model names a model directory. Prints a markdown table; --out writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from genomamba.atomic import atomic_write_text
from genomamba.io.fasta import FastaReader
from genomamba.io.vcf import read_variants
from genomamba.models.loading import load_model
from genomamba.scoring.zero_shot import VariantScorer

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
# the 50,000-SNV E. coli set where the shared data is mounted, else the bundled 200 kb one (2,217 SNVs)
FASTA, VARIANTS = ((SHARED / "genomes" / "train" / "MG1655-K12.fasta.gz", SHARED / "variants" / "ecoli_mg1655_consequences.vcf")
                   if (SHARED / "variants" / "ecoli_mg1655_consequences.vcf").is_file()
                   else (ROOT / "data" / "ecoli_mg1655.fa.gz", ROOT / "data" / "ecoli_consequences_200kb.vcf.gz"))


def snvs(path: str, n: int) -> list:
    """The first n biallelic SNV records of a VCF/TSV."""
    out = []
    for rec in read_variants(path)[1]:
        if len(rec.ref) == 1 and len(rec.alts) == 1 and len(rec.alts[0]) == 1:
            out.append(rec)
            if len(out) == n:
                break
    return out


def timed(model, genome, records, window, args, state_cache: bool) -> tuple[float, np.ndarray, VariantScorer]:
    """Seconds to score copies of `records`, and their scores `[n, rules]` (NaN where unscored)."""
    recs = [copy.deepcopy(r) for r in records]
    scorer = VariantScorer(model, genome, window=window, strands=args.strands, batch_size=args.batch_size,
                           device=args.device, state_cache=state_cache)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    sync()
    t0 = time.perf_counter()
    scored = list(scorer.score(recs))
    sync()
    dt = time.perf_counter() - t0
    vals = np.array([[float(v) if (v := r.info.get(k, ".")) != "." else np.nan for k in scorer.rules] for r in scored])
    return dt, vals, scorer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model directory (default: a random-init CharMambaLM)")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--n-layer", type=int, default=8)
    p.add_argument("--fasta", default=str(FASTA), help=f"reference FASTA (default {FASTA})")
    p.add_argument("--variants", default=str(VARIANTS), help=f"VCF/TSV of variants (default {VARIANTS})")
    p.add_argument("--n", type=int, default=5000, help="SNVs scored (the first N of --variants; fewer if it has fewer)")
    p.add_argument("--windows", default="2048,8192", help="comma-separated window widths")
    p.add_argument("--strands", choices=("forward", "both"), default="forward")
    p.add_argument("--batch-size", type=int, default=32, help="ref windows per forward call")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--repeats", type=int, default=1, help="timed runs of each path, alternated; the fastest counts")
    p.add_argument("--atol", type=float, default=1e-4, help="largest score difference accepted (nats)")
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.model:
        model, name = load_model(args.model, args.device), args.model
    else:
        from genomamba.models.config import MambaConfig
        from genomamba.models.lm import CharMambaLM

        torch.manual_seed(0)
        model = CharMambaLM(MambaConfig(d_model=args.d_model, n_layer=args.n_layer)).to(args.device).eval()
        name = f"random CharMambaLM d_model {args.d_model} x {args.n_layer} layers"
    genome = FastaReader(args.fasta)
    records = snvs(args.variants, args.n)
    rows = []
    for window in (int(w) for w in args.windows.split(",")):
        for cache in (False, True):  # warm-up at this width: kernel compilation and autotuning are not timed
            timed(model, genome, records[: min(2 * args.batch_size, len(records))], window, args, cache)
        t_full = t_cache = math.inf
        for _ in range(args.repeats):  # alternated, the best of each: fair on a machine shared with others
            t, v_full, s_full = timed(model, genome, records, window, args, False)
            t_full = min(t_full, t)
            t, v_cache, s_cache = timed(model, genome, records, window, args, True)
            t_cache = min(t_cache, t)
        both = ~np.isnan(v_full) & ~np.isnan(v_cache)
        diff = float(np.abs(v_full[both] - v_cache[both]).max()) if both.any() else 0.0
        same_nan = bool((np.isnan(v_full) == np.isnan(v_cache)).all())
        rows.append({
            "window": window, "variants": len(records),
            "no_cache_variants_per_s": round(len(records) / t_full, 2),
            "cache_variants_per_s": round(len(records) / t_cache, 2),
            "speedup": round(t_full / t_cache, 2),
            "no_cache_rows": s_full.stats.windows_scored, "cache_rows": s_cache.stats.windows_scored,
            "max_abs_diff": diff, "equal": same_nan and diff <= args.atol,
        })

    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "device": f"{args.device} ({device_name}, torch {torch.__version__}, threads {torch.get_num_threads()})",
        "model": name, "strands": args.strands, "batch_size": args.batch_size, "repeats": args.repeats, "rows": rows,
    }
    print(f"# bench_vcf_state_cache  {result['date']}  {result['device']}")
    print(f"{name}; {len(records)} SNVs of {args.variants}; strands {args.strands}; batch {args.batch_size}; "
          f"best of {args.repeats}\n")
    print("| window | --no-state-cache variants/s | state cache variants/s | speedup | max abs diff | equal |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['window']} | {r['no_cache_variants_per_s']} | {r['cache_variants_per_s']} | {r['speedup']}x | "
              f"{r['max_abs_diff']:.2e} | {'yes' if r['equal'] else 'NO'} |")
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    return 0 if all(r["equal"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
