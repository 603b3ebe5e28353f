"""Throughput and peak memory of streaming FASTA scoring: the first 1 Mbp of a record vs all of it.

Each case runs in a fresh process (peak RSS is a per-process high-water mark), which loads the
model, warms up on a few kb, then scores the interval through the same path as
`genomamba-score fasta` (`score_sequence` -> `summarize`; nothing written). Reported: bases/s,
peak RSS, peak RSS above the post-load baseline, and on CUDA the peak allocated GPU memory. If
memory is constant in sequence length, the whole-record row's memory equals the 1 Mbp row's.

    python benchmarks/bench_score_fasta.py MODEL_DIR data/ecoli_mg1655.fa.gz
    python benchmarks/bench_score_fasta.py --random-init 64,4 data/ecoli_mg1655.fa.gz \
        --markdown benchmarks/RESULTS_score_fasta.md

`--random-init D,L` saves a random-init CharMambaLM (d_model D, n_layer L) to a temp directory
first: throughput does not depend on the weights.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from short_reads import machine  # the machine line, shared by the benchmarks of scoring


def _rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def _run_case(model_dir: str, fasta: str, record: str, end: int, chunk: int, device: str,
              both: bool, threads: int | None, queue: mp.Queue) -> None:
    import torch

    from genomamba.io.fasta import FastaReader
    from genomamba.models import load_model
    from genomamba.scoring import score_sequence, summarize

    if threads:
        torch.set_num_threads(threads)
    model = load_model(model_dir, device=device)
    reader = FastaReader(fasta)
    list(summarize(score_sequence(model, reader, record, 0, min(4096, end), chunk=chunk, both_strands=both)))
    base_rss = _current_rss_mib()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    (row,) = summarize(score_sequence(model, reader, record, 0, end, chunk=chunk, both_strands=both))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    gpu = torch.cuda.max_memory_allocated() / (1 << 20) if device.startswith("cuda") else None
    queue.put(dict(bases=end, seconds=dt, rss=_rss_mib(), rss_delta=_rss_mib() - base_rss, gpu=gpu,
                   bpb=row.bits_per_base, threads=torch.get_num_threads()))


def _case(*args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run_case, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if proc.exitcode:
        raise RuntimeError(f"benchmark case {args} failed with exit code {proc.exitcode}")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", nargs="?", help="model directory (omit with --random-init)")
    p.add_argument("fasta", help="FASTA file (plain, gzip or bgzip)")
    p.add_argument("--random-init", metavar="D,L", help="use a random CharMambaLM with d_model D and n_layer L")
    p.add_argument("--record", help="record to score (default: the longest)")
    p.add_argument("--head", type=int, default=1_000_000, help="bases of the short case (default 1 Mbp)")
    p.add_argument("--chunk-size", type=int, nargs="+", default=[1 << 16], help="bases per model call (one row each)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--both-strands", action="store_true", help="score both strands (two streams)")
    p.add_argument("--markdown", type=Path, help="write the table (with command, machine, date) here")
    args = p.parse_args(argv)
    if (args.model_dir is None) == (args.random_init is None):
        p.error("give a model_dir or --random-init D,L (not both)")

    from genomamba.io.fasta import FastaReader

    lengths = FastaReader(args.fasta).lengths
    record = args.record or max(lengths, key=lengths.get)
    total = lengths[record]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir
        model_desc = model_dir
        if args.random_init:
            import torch

            from genomamba.models import CharMambaLM, MambaConfig

            d_model, n_layer = map(int, args.random_init.split(","))
            torch.manual_seed(0)
            model = CharMambaLM(MambaConfig(d_model=d_model, n_layer=n_layer))
            model_dir = str(model.save_pretrained(Path(tmp) / "model"))
            model_desc = f"random-init CharMambaLM d_model={d_model} n_layer={n_layer} ({model.num_parameters:,} parameters)"
        rows = []
        for chunk in args.chunk_size:
            for end in (min(args.head, total), total):
                r = _case(model_dir, args.fasta, record, end, chunk, args.device, args.both_strands, args.threads)
                r["chunk"] = chunk
                rows.append(r)
                print(f"chunk {chunk:>7}  [0, {end:>9,})  {r['bases'] / r['seconds']:>10,.0f} bases/s  "
                      f"peak RSS {r['rss']:7.1f} MiB (+{r['rss_delta']:.1f} over loaded model)"
                      + (f"  GPU {r['gpu']:.1f} MiB" if r["gpu"] is not None else ""), flush=True)

    gpu = args.device.startswith("cuda")
    header = "| interval | chunk | bases | seconds | bases/s | peak RSS MiB | RSS above loaded model MiB |" + (" peak GPU MiB |" if gpu else "")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {record.replace('|', chr(92) + '|')}:0-{r['bases']:,} | {r['chunk']} | {r['bases']:,} | {r['seconds']:.1f} | "
            f"{r['bases'] / r['seconds']:,.0f} | {r['rss']:.1f} | {r['rss_delta']:.1f} |"
            + (f" {r['gpu']:.1f} |" if gpu else "")
        )
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        cmd = "python " + " ".join(shlex.quote(a) for a in ([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])))
        text = (
            "# Streaming FASTA scoring: first 1 Mbp vs whole record\n\n"
            f"- command: `{cmd}`\n"
            f"- machine: {machine(args.device)}, device {args.device}, {rows[0]['threads']} torch threads\n"
            f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n"
            f"- model: {model_desc}\n"
            f"- input: {args.fasta}, record {record} ({total:,} bp){', both strands' if args.both_strands else ''}\n\n"
            f"{table}\n"
        )
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
