"""Loader throughput: genomamba's training windows vs raw pyfaidx fetches of the same windows.

For each window length, draws the same random windows (RandomWindows, seed 0) and times
  raw      pyfaidx.Fasta(...)[chrom][start:end] on the same (uncompressed or bgzip) file
  dataset  GenomeWindowDataset.__getitem__ (fetch + encode + N check + RC + tensor), one process
and reports bases/s and the ratio dataset/raw time. Usage:
  python benchmarks/bench_loader.py [--fasta PATH ...] [--seconds 3]
"""

from __future__ import annotations

import argparse
import platform
import time

import pyfaidx

from genomamba.data import GenomeWindowDataset, RandomWindows
from genomamba.io.fasta import FastaReader
from genomamba.io.intervals import Interval
from genomamba.paths import bundled_file


def _time(fn, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return time.perf_counter() - t0


def bench(path: str, window: int, seconds: float) -> dict:
    reader = FastaReader(path)
    served = reader._data_path  # the file pyfaidx can read (gzip is served from its uncompressed cache)
    ivs = [Interval(n, 0, length) for n, length in reader.lengths.items()]
    sampler = RandomWindows(ivs, window, seed=0, rc_prob=0.5)
    ds = GenomeWindowDataset([path], window, sampler=sampler, max_n_fraction=1.0)
    fa = pyfaidx.Fasta(str(served), as_raw=True, sequence_always_upper=False, rebuild=False, build_index=False)
    wins = [sampler.draw(i) for i in range(max(50, int(2e8 // window)))]

    def raw(i):
        w = wins[i % len(wins)]
        return fa[w.chrom][w.start:w.end]

    def ours(i):
        return ds[i % len(wins)]

    ds[0], raw(0)  # open files
    n = max(20, int(seconds / max(_time(raw, 20) / 20, 1e-7)))
    n = min(n, len(wins))
    t_raw = min(_time(raw, n) for _ in range(3))
    t_ours = min(_time(ours, n) for _ in range(3))
    return {"window": window, "n": n, "raw_Mbps": n * window / t_raw / 1e6, "ours_Mbps": n * window / t_ours / 1e6,
            "ratio": t_ours / t_raw, "file": str(served)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fasta", nargs="*", default=[bundled_file("ecoli_mg1655.fa.gz")])
    ap.add_argument("--windows", nargs="*", type=int, default=[1024, 131072])
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, one process")
    print("| file | window | windows | raw pyfaidx Mb/s | genomamba dataset Mb/s | time ratio (ours/raw) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for path in args.fasta:
        for w in args.windows:
            r = bench(path, w, args.seconds)
            print(f"| {r['file']} | {w:,} | {r['n']:,} | {r['raw_Mbps']:.1f} | {r['ours_Mbps']:.1f} | {r['ratio']:.2f} |")


if __name__ == "__main__":
    main()
