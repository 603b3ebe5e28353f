"""The fused add + RMSNorm backward (`add_rms_norm_triton`, d_model 256, bf16 x, fp32 residual) timed at the
model's row counts; run once with the kernels under test and once with a base copy first on PYTHONPATH.

    python benchmarks/results_2026-12-07f/normbench.py [--rows 131072,524288]
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="131072,524288", help="comma-separated row counts M")
    args = ap.parse_args()
    import torch
    from triton.testing import do_bench

    import genomamba_kernels
    from genomamba_kernels.layer_norm import add_rms_norm_triton

    print("kernels from", genomamba_kernels.__file__)
    for M in map(int, args.rows.split(",")):
        x = torch.randn(M, 256, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        res = torch.randn(M, 256, device="cuda", dtype=torch.float32, requires_grad=True)
        w = torch.ones(256, device="cuda", requires_grad=True)
        y, r = add_rms_norm_triton(x, res, w, 1e-5, True)
        dy, dr = torch.randn_like(y), torch.randn_like(r)
        ms = do_bench(lambda: torch.autograd.grad((y, r), (x, res, w), (dy, dr), retain_graph=True), warmup=20,
                      rep=200)
        print(f"M={M} bwd {ms * 1e3:.1f} us  ({M * 256 * 16 / ms / 1e9:.2f} TB/s at 16 B/elem)")


if __name__ == "__main__":
    main()
