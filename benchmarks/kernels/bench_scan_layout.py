"""Selective scan on the mixer's channel-last layout: genomamba's Triton kernels vs mamba-ssm's CUDA kernel.

The inputs are laid out as `MambaInnerFn` passes them: u and delta `[B, L, D]`, z the second half of
xz `[B, L, 2D]`, B and C slices of x_proj's output `[B, L, R + 2N]`, all as strided `[B, D, L]` views.
mamba-ssm gets L-contiguous copies (its own model's layout). Also timed: genomamba's kernels on
L-contiguous copies, on u and delta L-contiguous with z, B and C channel-last (an earlier mixer's layout),
on the channel-last views at the code's defaults, and variants of that run set by environment variables
(GENOMAMBA_SCAN_PREFETCH, GENOMAMBA_SCAN_FWD / _BWD tiles; see DEFAULT_VARIANTS). Times are medians of do_bench in ms, bf16,
delta_softplus, D, z and delta_bias; fwd+bwd takes the grads of u, delta, z, B, C (no accumulation).

    python benchmarks/kernels/bench_scan_layout.py [--shapes 2,1,0] [--variants CKPT_PASS=16x16x1] [--out results.md]
        [--channel-last-only]
"""

from __future__ import annotations

import argparse
import json
import os

import torch
from triton.testing import do_bench

from genomamba_kernels import selective_scan_triton

# the model's layer at B=1 L=2^20, B=64 L=8k (forward rows), B=1 L=131k, B=8 L=16k (training rows), and the issue's
# (16, 512, 16, 8192)
SHAPES = [(1, 512, 16, 1 << 20), (64, 512, 16, 8192), (1, 512, 16, 131072), (8, 512, 16, 16384), (16, 512, 16, 8192)]
# Variants of the channel-last run: `KEY=VALUE[+KEY=VALUE...]`, each KEY a GENOMAMBA_SCAN_<KEY> setting read
# at launch by genomamba_kernels.selective_scan: BWD (BDxBLxWARPS[xDI], default 16x4x1x2), CKPT_PASS (the
# checkpoint pass's tiles, default 16x8x1), CKPT_STEPS, BWD_WARPS_PER_SM, FWD (default 32x8x1), FWD_WARPS_PER_SM,
# {FWD,BWD,CKPT_PASS}_MAXNREG (register caps, default 128 / none / 128; 0 lifts one), PREFETCH (default 16 steps),
# PASS1_SPLIT (parts of a chunk forward pass 1 scans; default: enough to fill the GPU), UNMASKED (1: whole tiles
# load with no masks; default 0).
# The default variant is the backward before BENCHMARKS.md 7g.
DEFAULT_VARIANTS = "BWD=16x4x1+CKPT_PASS=16x4x1"


def variant_env(spec: str) -> dict[str, str]:
    """The environment of one variant spec, `KEY=VALUE[+KEY=VALUE...]` -> {GENOMAMBA_SCAN_KEY: VALUE}."""
    env = {}
    for part in spec.split("+"):
        key, sep, value = part.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"--variants: {part!r} in {spec!r} is not KEY=VALUE")
        env[f"GENOMAMBA_SCAN_{key.strip().upper()}"] = value.strip()
    return env


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
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help="comma-separated KEY=VALUE[+KEY=VALUE] specs")
    ap.add_argument("--out", default=None, help="write results.md and results.json beside it")
    ap.add_argument("--channel-last-only", action="store_true",
                    help="skip genomamba's L-contiguous rows (mamba-ssm's row stays: the ratios' base)")
    args = ap.parse_args()
    rows = []
    for si in map(int, args.shapes.split(",")):
        shape = SHAPES[si]
        cl, p = make(*shape)
        contig = {k: v.contiguous() for k, v in cl.items()}
        ud_contig = dict(cl, u=contig["u"], delta=contig["delta"])  # z, B, C stay channel-last
        runs = [("mamba_ssm (L-contig)", mamba, contig, {})]
        if not args.channel_last_only:
            runs += [("genomamba L-contig", ours, contig, {}), ("genomamba u,delta L-contig", ours, ud_contig, {})]
        runs += [("genomamba channel-last", ours, cl, {})]
        runs += [(f"genomamba {name}", ours, cl, variant_env(name)) for name in filter(None, args.variants.split(","))]
        base = None
        for name, fn, x, env in runs:  # each row printed as it is measured (a device call's limit may cut the rest)
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                f, fb = times(fn, x, p)
            finally:
                for k, v in saved.items():
                    os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
            base = base or (f, fb)
            rows.append(dict(shape=shape, impl=name, fwd_ms=f, fwd_bwd_ms=fb, fwd_x=base[0] / f, fwd_bwd_x=base[1] / fb))
            print(f"{str(shape):28s} {name:44s} fwd {f:8.3f} ms ({base[0] / f:4.2f}x)  "
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
