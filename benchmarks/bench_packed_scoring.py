"""Continuous batching for scoring many short sequences: packed rows (seq_idx) vs padded batches vs
one record per call, on a FASTA of N reads cut from a genome; bases/s and identical per-record results.

All three run `genomamba.scoring.score_records -> summarize` (the `genomamba-score fasta` path):
packed = `pack=True` (`--batch-size` rows of `--chunk-size` bases per call), padded = `pack=False`
(`--padded-batch-size` records per call, each right-padded to the longest), one by one = one record
per call (on the first `--one-by-one` reads only: it is slow). Each mode warms up on 200 reads first.
"identical" compares every record's bits per base with the packed run's (max abs difference).

    python benchmarks/bench_packed_scoring.py data/ecoli_mg1655.fa.gz --random-init 256,8 --device cuda \
        --out packed_scoring_gpu.json
    python benchmarks/bench_packed_scoring.py data/ecoli_mg1655.fa.gz --random-init 64,2 --n 3000 \
        --one-by-one 500 --out packed_scoring_cpu.json
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from short_reads import machine, write_reads


def _run(model, reader, names, device, **kw) -> tuple[float, dict[str, float]]:
    import torch

    from genomamba.scoring import score_records, summarize

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    bpb = {r.name: r.bits_per_base for r in summarize(score_records(model, reader, names, device=device, **kw))}
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, bpb


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("genome", help="FASTA to cut the reads from (plain, gzip or bgzip)")
    p.add_argument("--model", help="model directory (char_mamba); or --random-init")
    p.add_argument("--random-init", metavar="D,L", default="256,8",
                   help="random-init CharMambaLM with d_model D, n_layer L (default 256,8; throughput does not "
                        "depend on the weights)")
    p.add_argument("--n", type=int, default=100_000, help="reads (default 100000)")
    p.add_argument("--min-len", type=int, default=150)
    p.add_argument("--max-len", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--chunk-size", type=int, help="packed row width (default: genomamba-score's for the device)")
    p.add_argument("--batch-size", type=int, default=8, help="packed rows per call (default 8, the CLI's)")
    p.add_argument("--padded-batch-size", type=int, nargs="+", default=[8, 64],
                   help="records per padded call, one row each (default 8 (the CLI's) and 64)")
    p.add_argument("--one-by-one", type=int, default=2000, help="reads scored one per call (default 2000; 0: skip)")
    p.add_argument("--both-strands", action="store_true")
    p.add_argument("--threads", type=int, help="torch intra-op threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args(argv)

    import torch

    from genomamba.io.fasta import FastaReader
    from genomamba.models import CharMambaLM, MambaConfig, load_model
    from genomamba.scoring import DEFAULT_CHUNK, DEFAULT_CHUNK_CUDA

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model:
        model, model_desc = load_model(args.model, device=args.device), args.model
    else:
        d, n_layer = map(int, args.random_init.split(","))
        torch.manual_seed(0)
        model = CharMambaLM(MambaConfig(d_model=d, n_layer=n_layer)).to(args.device).eval()
        model_desc = f"random-init CharMambaLM d_model={d} n_layer={n_layer} ({model.num_parameters:,} parameters)"
    chunk = args.chunk_size or (DEFAULT_CHUNK_CUDA if args.device.startswith("cuda") else DEFAULT_CHUNK)
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        reads = write_reads(args.genome, Path(tmp) / "reads.fa", args.n, args.min_len, args.max_len, args.seed)
        print(f"{args.n:,} reads written in {time.perf_counter() - t0:.1f} s", flush=True)
        with FastaReader(reads) as reader:
            names = reader.names
            common = dict(chunk=chunk, both_strands=args.both_strands)
            modes = [("packed", names, dict(pack=True, batch_size=args.batch_size))]
            modes += [(f"padded, {b} per call", names, dict(pack=False, batch_size=b)) for b in args.padded_batch_size]
            if args.one_by_one:
                modes.append(("one by one", names[:args.one_by_one], dict(pack=False, batch_size=1)))
            for label, subset, kw in modes:
                print(f"{label:>24}: warm-up, then {len(subset):,} reads ...", flush=True)
                _run(model, reader, names[:200], args.device, **common, **kw)  # warm-up
                seconds, bpb = _run(model, reader, subset, args.device, **common, **kw)
                results[label] = bpb
                bases = sum(reader.lengths[n] for n in subset) * (2 if args.both_strands else 1)
                ref = results["packed"]
                diffs = [abs(v - ref[n]) for n, v in bpb.items() if not (math.isnan(v) and math.isnan(ref[n]))]
                same_nan = all(math.isnan(v) == math.isnan(ref[n]) for n, v in bpb.items())
                rows.append(dict(mode=label, records=len(subset), bases=bases, seconds=seconds,
                                 bases_per_s=bases / seconds, max_abs_diff_bpb=max(diffs, default=0.0),
                                 same_nan=same_nan, **kw))
                print(f"{label:>24}: {len(subset):>7} reads {bases / seconds:>12,.0f} bases/s "
                      f"max |d bits/base| vs packed {rows[-1]['max_abs_diff_bpb']:.2e}", flush=True)
    packed_rate = rows[0]["bases_per_s"]
    lines = ["| mode | reads | bases | seconds | bases/s | packed speed-up | max abs diff bits/base vs packed |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['records']:,} | {r['bases']:,} | {r['seconds']:.2f} | {r['bases_per_s']:,.0f} "
                     f"| {packed_rate / r['bases_per_s']:.2f}x | {r['max_abs_diff_bpb']:.1e}"
                     f"{'' if r['same_nan'] else ' (NaN pattern differs!)'} |")
    cmd = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    meta = dict(command=cmd, machine=machine(args.device), device=args.device, threads=torch.get_num_threads(),
                date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), model=model_desc, chunk=chunk,
                reads=f"{args.n} reads of {args.min_len}-{args.max_len} bp from {args.genome} (seed {args.seed})",
                both_strands=args.both_strands)
    print(f"\n{meta['reads']}; {model_desc}; chunk {chunk}; {meta['machine']}, {meta['threads']} threads\n")
    print("\n".join(lines))
    if args.out:
        args.out.write_text(json.dumps(dict(meta, rows=rows), indent=2) + "\n")
    return 0 if all(r["max_abs_diff_bpb"] < 1e-4 and r["same_nan"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
