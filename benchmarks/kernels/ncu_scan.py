"""One fwd+bwd of the Triton scan on the mixer's channel-last layout, for Nsight Compute.

Warms up (compiles) outside the profiled range, then brackets one forward and backward with
cudaProfilerStart/Stop, so that `ncu --profile-from-start off` sees only the kernels of one step:

    ncu --clock-control none --profile-from-start off -k regex:selective_scan --section SpeedOfLight \
        python benchmarks/kernels/ncu_scan.py --shape 8,512,16,16384
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_scan_layout import make, ours  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="8,512,16,16384", help="B,D,N,L")
    args = ap.parse_args()
    x, p = make(*map(int, args.shape.split(",")))
    keys = ["u", "delta", "z", "B", "C"]
    leaves = {k: v.detach().requires_grad_(True) for k, v in x.items()}

    def step():
        y = ours(leaves, p)
        torch.autograd.grad(y, [leaves[k] for k in keys], torch.ones_like(y))

    for _ in range(2):
        step()
    torch.cuda.synchronize()
    torch.cuda.cudart().cudaProfilerStart()
    step()
    torch.cuda.synchronize()
    torch.cuda.cudart().cudaProfilerStop()


if __name__ == "__main__":
    main()
