"""Selective scan on the mixer's channel-last layout: genomamba's Triton kernels vs mamba-ssm's CUDA kernel.

The inputs are laid out as `MambaInnerFn` passes them: u and delta `[B, L, D]`, z the second half of
xz `[B, L, 2D]`, B and C slices of x_proj's output `[B, L, R + 2N]`, all as strided `[B, D, L]` views.
mamba-ssm gets L-contiguous copies (its own model's layout). Also timed: genomamba's kernels on
L-contiguous copies, on the layout `MambaInnerFn` now uses (u and delta L-contiguous, z, B and C
channel-last slices), and variants of the channel-last run set by environment variables
(GENOMAMBA_SCAN_PREFETCH, GENOMAMBA_SCAN_FWD / _BWD tiles). Times are medians of do_bench in ms, bf16,
delta_softplus, D, z and delta_bias; fwd+bwd takes the grads of u, delta, z, B, C (no accumulation).

    PYTHONPATH=.:/tmp/gk python benchmarks/kernels/bench_scan_layout.py [--out results.md]
"""

from __future__ import annotations

import argparse
import json
import os

import torch
from triton.testing import do_bench

from genomamba_kernels import selective_scan_triton

SHAPES = [(1, 512, 16, 1 << 20), (64, 512, 16, 8192), (1, 512, 16, 131072)]
VARIANTS = {  # name -> environment of the channel-last genomamba run
    "cl_pf0": {"GENOMAMBA_SCAN_PREFETCH": "0"},
    "cl_pf64": {"GENOMAMBA_SCAN_PREFETCH": "64"},
    "cl_pf128": {"GENOMAMBA_SCAN_PREFETCH": "128"},
    # the backward's state checkpoint spacing and tiles (default 16x4x1), and its
    # programs per SM (defaults: 32-step checkpoints, 32 warps a SM)
    "ck4": {"GENOMAMBA_SCAN_CKPT_STEPS": "4"},  # a checkpoint a tile: no group rescan in the backward
    "ck4_ckp8x4x1": {"GENOMAMBA_SCAN_CKPT_STEPS": "4", "GENOMAMBA_SCAN_CKPT_PASS": "8x4x1"},
    "ck8": {"GENOMAMBA_SCAN_CKPT_STEPS": "8"},
    "ck8_b32x2x1x4": {"GENOMAMBA_SCAN_CKPT_STEPS": "8", "GENOMAMBA_SCAN_BWD": "32x2x1x4"},
    "ck2_b32x1x1x4": {"GENOMAMBA_SCAN_CKPT_STEPS": "2", "GENOMAMBA_SCAN_BWD": "32x1x1x4"},
    "ck16": {"GENOMAMBA_SCAN_CKPT_STEPS": "16"},
    "ck32": {"GENOMAMBA_SCAN_CKPT_STEPS": "32"},
    "ck128": {"GENOMAMBA_SCAN_CKPT_STEPS": "128"},
    "bwd32x4x1": {"GENOMAMBA_SCAN_BWD": "32x4x1"},
    "bwd16x8x1": {"GENOMAMBA_SCAN_BWD": "16x8x1"},
    "bwd32x2x1": {"GENOMAMBA_SCAN_BWD": "32x2x1"},
    "bwd16x4x2": {"GENOMAMBA_SCAN_BWD": "16x4x2"},
    "wps16": {"GENOMAMBA_SCAN_BWD_WARPS_PER_SM": "16"},
    "wps4": {"GENOMAMBA_SCAN_BWD_WARPS_PER_SM": "4"},
    "wps8": {"GENOMAMBA_SCAN_BWD_WARPS_PER_SM": "8"},
    "wps32": {"GENOMAMBA_SCAN_BWD_WARPS_PER_SM": "32"},
    "wps64": {"GENOMAMBA_SCAN_BWD_WARPS_PER_SM": "64"},
    "wps16_ck32": {"GENOMAMBA_SCAN_BWD_WARPS_PER_SM": "16", "GENOMAMBA_SCAN_CKPT_STEPS": "32"},
    "wps32_ck32": {"GENOMAMBA_SCAN_BWD_WARPS_PER_SM": "32", "GENOMAMBA_SCAN_CKPT_STEPS": "32"},
    # the forward's tiles (default 32x8x1) and its programs per SM (default 16 warps a SM)
    "fwd32x1x1": {"GENOMAMBA_SCAN_FWD": "32x1x1"},
    "fwd32x2x1": {"GENOMAMBA_SCAN_FWD": "32x2x1"},
    "fwd32x4x1": {"GENOMAMBA_SCAN_FWD": "32x4x1"},
    "fwd32x8x1": {"GENOMAMBA_SCAN_FWD": "32x8x1"},
    "fwd32x16x1": {"GENOMAMBA_SCAN_FWD": "32x16x1"},
    "fwd16x2x1": {"GENOMAMBA_SCAN_FWD": "16x2x1"},
    "fwd16x4x1": {"GENOMAMBA_SCAN_FWD": "16x4x1"},
    "fwd64x2x2": {"GENOMAMBA_SCAN_FWD": "64x2x2"},
    # the backward's checkpoint pass (default: the backward's tiles, 16x4x1); its BLOCK_L must divide 32
    "ck8x4x1": {"GENOMAMBA_SCAN_CKPT_PASS": "8x4x1"},
    "ck8x2x1": {"GENOMAMBA_SCAN_CKPT_PASS": "8x2x1"},
    "ck4x8x1": {"GENOMAMBA_SCAN_CKPT_PASS": "4x8x1"},
    "ck16x8x1": {"GENOMAMBA_SCAN_CKPT_PASS": "16x8x1"},
    # backward tiles BDxBLxWARPSxDI (DI channels a lane: the channel sums of dB and dC add DI values
    # in-thread before any shuffle), with the checkpoint pass's tiles and spacing
    "b32x1x1x4": {"GENOMAMBA_SCAN_BWD": "32x1x1x4"},
    "b32x1x1x4_ck16": {"GENOMAMBA_SCAN_BWD": "32x1x1x4", "GENOMAMBA_SCAN_CKPT_STEPS": "16"},
    "b32x1x1x4_ckp8x4x1": {"GENOMAMBA_SCAN_BWD": "32x1x1x4", "GENOMAMBA_SCAN_CKPT_PASS": "8x4x1"},
    "b16x1x1x2": {"GENOMAMBA_SCAN_BWD": "16x1x1x2"},
    "b16x2x1x2": {"GENOMAMBA_SCAN_BWD": "16x2x1x2"},
    "b32x2x1x4": {"GENOMAMBA_SCAN_BWD": "32x2x1x4"},
    "b32x2x1x2": {"GENOMAMBA_SCAN_BWD": "32x2x1x2"},
    "b16x4x1x2": {"GENOMAMBA_SCAN_BWD": "16x4x1x2"},
    "b16x4x1_r168": {"GENOMAMBA_SCAN_BWD_MAXNREG": "168"},
    "b32x1x1x4_r168": {"GENOMAMBA_SCAN_BWD": "32x1x1x4", "GENOMAMBA_SCAN_BWD_MAXNREG": "168"},
    "fwd8x4x1": {"GENOMAMBA_SCAN_FWD": "8x4x1"},
    "fwd8x8x1": {"GENOMAMBA_SCAN_FWD": "8x8x1"},
    "fwd16x8x1": {"GENOMAMBA_SCAN_FWD": "16x8x1"},
    "fwd8x8x1_fwps32": {"GENOMAMBA_SCAN_FWD": "8x8x1", "GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "32"},
    "fwd8x4x1_fwps32": {"GENOMAMBA_SCAN_FWD": "8x4x1", "GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "32"},
    "fwps10": {"GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "10"},  # 32x8x1 takes 200 registers: 10 warps fit a SM
    "fwps20": {"GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "20"},
    "fwps8": {"GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "8"},
    "fwps12": {"GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "12"},
    "fwps16": {"GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "16"},
    "fwps24": {"GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "24"},
    "fwps32": {"GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "32"},
    "fwps64": {"GENOMAMBA_SCAN_FWD_WARPS_PER_SM": "64"},
}
R = 16  # dt_rank of d_model 256


def make(Bsz, Dm, N, L, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    r = lambda *s: torch.randn(*s, device="cuda", generator=g)  # noqa: E731
    bf = torch.bfloat16
    xz = r(Bsz, L, 2 * Dm).to(bf)
    x_dbl = r(Bsz, L, R + 2 * N).to(bf)
    cl = dict(u=r(Bsz, L, Dm).to(bf).transpose(1, 2), delta=(0.5 * r(Bsz, L, Dm) - 2.0).to(bf).transpose(1, 2),
              z=xz[..., Dm:].transpose(1, 2), B=x_dbl[..., R:R + N].transpose(1, 2),
              C=x_dbl[..., R + N:].transpose(1, 2))
    params = dict(A=-(0.5 + torch.rand(Dm, N, device="cuda", generator=g)), D=r(Dm), delta_bias=0.1 * r(Dm))
    return cl, params


def ours(x, p):
    return selective_scan_triton(x["u"], x["delta"], p["A"], x["B"], x["C"], D=p["D"], z=x["z"],
                                 delta_bias=p["delta_bias"], delta_softplus=True)


def mamba(x, p):
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

    return selective_scan_fn(x["u"], x["delta"], p["A"], x["B"], x["C"], p["D"], x["z"], p["delta_bias"], True)


def times(fn, x, p) -> tuple[float, float]:
    """(fwd ms, fwd+bwd ms) of fn on inputs x (dict of `[B, *, L]` tensors or views) and params p."""
    keys = ["u", "delta", "z", "B", "C"]
    leaves = {k: v.detach().requires_grad_(True) for k, v in x.items()}
    with torch.no_grad():
        out = fn(leaves, p)
    dout = torch.randn_like(out)

    def fwd():
        with torch.no_grad():
            fn(leaves, p)

    def fwd_bwd():
        y = fn(leaves, p)
        torch.autograd.grad(y, [leaves[k] for k in keys], dout)

    fwd_bwd()
    torch.cuda.synchronize()
    return (do_bench(fwd, warmup=10, rep=200, return_mode="median"),
            do_bench(fwd_bwd, warmup=10, rep=200, return_mode="median"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="0,1,2", help="indices into SHAPES")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", default=None, help="write results.md and results.json beside it")
    args = ap.parse_args()
    rows = []
    for si in map(int, args.shapes.split(",")):
        shape = SHAPES[si]
        cl, p = make(*shape)
        contig = {k: v.contiguous() for k, v in cl.items()}
        mixer = dict(cl, u=contig["u"], delta=contig["delta"])  # MambaInnerFn's: z, B, C stay channel-last
        res = {"mamba_ssm (L-contig)": times(mamba, contig, p), "genomamba L-contig": times(ours, contig, p),
               "genomamba mixer layout": times(ours, mixer, p)}
        for name in args.variants.split(","):
            saved = {k: os.environ.get(k) for k in VARIANTS[name]}
            os.environ.update(VARIANTS[name])
            try:
                res[f"genomamba {name}"] = times(ours, cl, p)
            finally:
                for k, v in saved.items():
                    os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        base = res["mamba_ssm (L-contig)"]
        for name, (f, fb) in res.items():
            rows.append(dict(shape=shape, impl=name, fwd_ms=f, fwd_bwd_ms=fb, fwd_x=base[0] / f, fwd_bwd_x=base[1] / fb))
            print(f"{str(shape):28s} {name:34s} fwd {f:8.3f} ms ({base[0] / f:4.2f}x)  "
                  f"fwd+bwd {fb:8.3f} ms ({base[1] / fb:4.2f}x)", flush=True)
        del cl, contig
        torch.cuda.empty_cache()
    md = ["| shape (B, D, N, L) | implementation | fwd ms | x mamba-ssm | fwd+bwd ms | x mamba-ssm |",
          "| --- | --- | --- | --- | --- | --- |"]
    md += [f"| {r['shape']} | {r['impl']} | {r['fwd_ms']:.3f} | {r['fwd_x']:.2f}x | {r['fwd_bwd_ms']:.3f} | "
           f"{r['fwd_bwd_x']:.2f}x |" for r in rows]
    print("\n".join(md))
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"device: {torch.cuda.get_device_name()}\n\n" + "\n".join(md) + "\n")
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump(rows, f, indent=1, default=str)


if __name__ == "__main__":
    main()
