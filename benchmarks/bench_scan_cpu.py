"""CPU selective-scan benchmark: `selective_scan_ref` vs `selective_scan_torch` vs `selective_scan_numba`, fwd and fwd+bwd.

Prints a markdown table (median wall time over repeats after one warm-up). Each case stops
repeating once it has used `--cap` seconds, so the slow reference at long L is timed fewer times.

    python benchmarks/bench_scan_cpu.py            # (1, 256, 16, 4096) and (1, 256, 16, 65536)
    python benchmarks/bench_scan_cpu.py --quick    # L = 4096 only, fewer repeats
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from genomamba.ops.selective_scan_ref import selective_scan_ref
from genomamba.ops.selective_scan_numba import selective_scan_numba
from genomamba.ops.selective_scan_torch import selective_scan_torch

IMPLS = {"ref": selective_scan_ref, "torch": selective_scan_torch, "numba": selective_scan_numba}


def make_inputs(Bsz: int, D: int, N: int, L: int, grad: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """Mamba-like inputs: A = -(1..N) (S4D-real init), delta after softplus in ~[0.001, 0.1]."""
    g = torch.Generator().manual_seed(seed)
    ins = {
        "u": torch.randn(Bsz, D, L, generator=g),
        "delta": torch.rand(Bsz, D, L, generator=g) * 4 - 6,
        "A": -torch.arange(1, N + 1, dtype=torch.float32).repeat(D, 1),
        "B": torch.randn(Bsz, N, L, generator=g),
        "C": torch.randn(Bsz, N, L, generator=g),
        "D": torch.randn(D, generator=g),
        "z": torch.randn(Bsz, D, L, generator=g),
        "delta_bias": torch.rand(D, generator=g) * 0.1,
    }
    return {k: v.requires_grad_(grad) for k, v in ins.items()}


def time_case(fn, ins: dict[str, torch.Tensor], grad: bool, repeats: int, cap_s: float) -> tuple[float, float, int]:
    """Median and min seconds per call and the number of timed repeats (after one untimed warm-up).

    The min is reported too: on a shared 2-core machine another process's burst inflates a
    median, never a min."""

    def once() -> None:
        for v in ins.values():
            v.grad = None
        if grad:
            y = fn(**ins, delta_softplus=True)
            y.backward(torch.ones_like(y))
        else:
            with torch.no_grad():
                fn(**ins, delta_softplus=True)

    t0 = time.perf_counter()
    once()
    warm = time.perf_counter() - t0
    times: list[float] = []
    spent = warm
    while len(times) < repeats and (not times or spent + warm <= cap_s):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    return statistics.median(times), min(times), len(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[4096, 65536])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cap", type=float, default=60.0, help="seconds per case before repeats stop")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--quick", action="store_true", help="L=4096 only, 3 repeats, 20 s cap")
    args = p.parse_args()
    if args.quick:
        args.lengths, args.repeats, args.cap = [4096], 3, 20.0
    if args.threads:
        torch.set_num_threads(args.threads)

    import numba

    # the first numba call compiles (or loads the on-disk cache); time it apart from the table
    t0 = time.perf_counter()
    time_case(selective_scan_numba, make_inputs(1, 4, 2, 8, True), True, 1, 0.0)
    print(f"numba {numba.__version__}: first call (compile or cache load) {time.perf_counter() - t0:.1f} s")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, fp32, delta_softplus, D and z on\n")
    print("| B | D | N | L | pass | ref median (s) | torch median (s) | numba median (s) | torch / ref | numba / ref "
          "| ref min (s) | torch min (s) | numba min (s) | torch / ref (min) | numba / ref (min) | repeats |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for L in args.lengths:
        for grad in (False, True):
            ins = make_inputs(args.batch, args.d, args.n, L, grad)
            res = {name: time_case(fn, ins, grad, args.repeats, args.cap) for name, fn in IMPLS.items()}
            (tr, mr, nr), (tt, mt, nt), (tn, mn, nn) = res["ref"], res["torch"], res["numba"]
            name = "fwd+bwd" if grad else "fwd"
            print(f"| {args.batch} | {args.d} | {args.n} | {L} | {name} | {tr:.4f} | {tt:.4f} | {tn:.4f} "
                  f"| {tr / tt:.1f}x | {tr / tn:.1f}x | {mr:.4f} | {mt:.4f} | {mn:.4f} | {mr / mt:.1f}x | {mr / mn:.1f}x "
                  f"| {nr}/{nt}/{nn} |", flush=True)


if __name__ == "__main__":
    main()
