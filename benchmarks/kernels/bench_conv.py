"""Causal conv1d + SiLU benchmark: our Triton kernels, old (tile) and new (rows), vs the `causal_conv1d` CUDA package.

Times (median of triton.testing.do_bench) the forward and the backward alone, bf16, SiLU, bias, x
channel-last: ours read x as the first half of a `[B, L, 2D]` tensor (in_proj's output) and write dx
into the first half of a `[B, L, 2D]` buffer, as the model does; causal_conv1d_fn gets x as the
`[B, D, L]` view of a `[B, L, D]` tensor (its channel-last path) and its backward runs through
autograd (dx, dweight, dbias). Each time is also given against the bytes floor (x, dout read once,
out or dx written once) over the device copy bandwidth measured in this run.

    PYTHONPATH=.:/tmp/gk python benchmarks/kernels/bench_conv.py --out results.md [--tiles 128x8x1,128x4x1]
    python benchmarks/kernels/bench_conv.py --device cpu --quick   # a smoke test under Triton's interpreter
    PYTHONPATH=/tmp/t36 python benchmarks/kernels/bench_conv.py --regs  # registers/spills for sm_90, no GPU

(`/tmp/gk/genomamba_kernels` -> `kernels/` when the package is not pip-installed.) --tiles sweeps the
rows kernels' BLOCK_DxROWSxWARPS[xPROGRAMS_PER_SM] on CUDA, both directions alike (a plain
`ours new` row: the module's tiles); with --regs it adds those tiles to the compile check.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

SHAPES = [(1, 131072, 512), (8, 16384, 512)]
K = 4


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--quick", action="store_true", help="one tiny shape (the CPU smoke test)")
    ap.add_argument("--tiles", default=None, help="rows-kernel tiles BDxROWSxWARPS[xPROGS_PER_SM], comma separated")
    ap.add_argument("--regs", action="store_true", help="only print registers and spills compiled for sm_90")
    ap.add_argument("--out", default=None, help="write the markdown table here (and a .json beside it)")
    return ap.parse_args()


ARGS = parse()
TILES = [tuple(int(v) for v in t.split("x")) for t in ARGS.tiles.split(",")] if ARGS.tiles else []
if ARGS.device == "cpu":
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import torch
import triton
from genomamba_kernels import causal_conv1d as cc

try:
    from causal_conv1d import causal_conv1d_fn
except ImportError:
    causal_conv1d_fn = None


def regs() -> None:
    """Registers, stack (spills) and warps a SM of the conv kernels for sm_90 at the benchmark's
    specialisation (bf16 activations, fp32 weights and sums, stride_xd == 1, the rest 16-divisible)."""
    import inspect
    import re
    import subprocess
    import tempfile

    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    cuobjdump = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    fp32 = {"w_ptr", "bias_ptr", "dw_ptr", "dbias_ptr"}
    flags = {"K": K, "HAS_BIAS": True, "HAS_STATE": False, "HAS_SEQ": False, "SILU": True}
    kernels = [("fwd old", cc._causal_conv1d_fwd_kernel, {"BLOCK_L": 64, "BLOCK_D": 64}, 4),
               ("bwd old", cc._causal_conv1d_bwd_kernel, {"BLOCK_L": 64, "BLOCK_D": 64}, 4)]
    for which, fn in [("fwd", cc._causal_conv1d_fwd_rows_kernel), ("bwd", cc._causal_conv1d_bwd_rows_kernel)]:
        for bd, rows, nw in [cc._ROWS_TILE[which], *TILES]:
            kernels.append((f"{which} new", fn, {"ROWS": rows, "BLOCK_D": bd}, nw))
    for name, fn, tile, warps in kernels:
        ce = dict(flags, **tile, stride_xd=1)
        names = list(inspect.signature(fn.fn).parameters)
        sig = {n: "constexpr" if n in ce else ("*i32" if n == "seq_ptr" else "*fp32" if n in fp32 else "*bf16")
               if n.endswith("_ptr") else "i32" for n in names}
        attrs = {(i,): [["tt.divisibility", 16]] for i, n in enumerate(names) if n not in ce and n != "CH"}
        src = ASTSource(fn, sig, constexprs={(names.index(k),): v for k, v in ce.items()}, attrs=attrs)
        k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": warps})
        with tempfile.TemporaryDirectory() as d:
            cubin = os.path.join(d, "k.cubin")
            Path(cubin).write_bytes(k.asm["cubin"])
            out = subprocess.run([cuobjdump, "--dump-resource-usage", cubin], capture_output=True, text=True,
                                 check=True).stdout
        r, stack = int(re.search(r"REG:(\d+)", out).group(1)), int(re.search(r"STACK:(\d+)", out).group(1))
        print(f"{name} ({warps} warps, {tile}): {r} registers, {stack} bytes of stack (spills), "
              f"~{min(64, 65536 // (r * 32) // warps * warps)} warps/SM")


def timer(device: str):
    if device == "cuda":
        from triton.testing import do_bench
        return lambda fn: do_bench(fn, warmup=25, rep=200, return_mode="median")

    def cpu_time(fn):  # the interpreter: one warm-up, the median of 3
        fn()
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1e3)
        return sorted(ts)[1]
    return cpu_time


def copy_bandwidth(device: str) -> float | None:
    """Bytes/s (read plus written) of a 1 GiB device-to-device copy."""
    if device != "cuda":
        return None
    from triton.testing import do_bench
    x = torch.empty(1 << 30, dtype=torch.uint8, device=device).random_()
    y = torch.empty_like(x)
    ms = do_bench(lambda: y.copy_(x), warmup=50, rep=300, return_mode="median")
    return 2 * (1 << 30) / (ms * 1e-3)


def bench_shape(Bsz, L, D, device, bench, tiles) -> list[dict]:
    g = torch.Generator(device=device).manual_seed(0)
    xz = torch.randn(Bsz, L, 2 * D, device=device, generator=g, dtype=torch.bfloat16)
    x = xz[..., :D]
    w = 0.5 * torch.randn(D, K, device=device, generator=g)
    b = torch.randn(D, device=device, generator=g)
    dout = torch.randn(Bsz, L, D, device=device, generator=g, dtype=torch.bfloat16)
    dxz = torch.empty_like(xz)
    rows = []

    def run(variant, fwd, bwd, tile=None):
        rows.append({"B": Bsz, "L": L, "D": D, "variant": variant, "tile": tile,
                     "fwd_ms": bench(fwd), "bwd_ms": bench(bwd)})
        print(json.dumps(rows[-1]), flush=True)

    for choice in ("old", "new"):
        for tile in (tiles if choice == "new" else [None]):
            os.environ["GENOMAMBA_CONV_FWD"] = os.environ["GENOMAMBA_CONV_BWD"] = choice
            if tile is not None:
                cc._ROWS_TILE = {"fwd": tile[:3], "bwd": tile[:3]}
                cc._ROWS_PROGS_PER_SM = tile[3] if len(tile) > 3 else 8
            run(f"ours {choice}", lambda: cc._causal_conv1d_fwd(x, w, b, None, True),
                lambda: cc._causal_conv1d_bwd(x, w, b, None, dout, True, dx=dxz[..., :D]),
                None if tile is None else "x".join(map(str, tile)))
    if causal_conv1d_fn is not None and device == "cuda":
        xc = x.contiguous().transpose(1, 2).requires_grad_()  # [B, D, L], D-contiguous: the channel-last path
        wc, bc = w.clone().requires_grad_(), b.clone().requires_grad_()
        out = causal_conv1d_fn(xc, wc, bc, activation="silu")
        doc = dout.transpose(1, 2)
        run("causal_conv1d", lambda: causal_conv1d_fn(xc, wc, bc, activation="silu"),
            lambda: torch.autograd.grad(out, (xc, wc, bc), doc, retain_graph=True))
    return rows


def table(rows, bw) -> str:
    lines = ["| B | L | D | kernel | tile | fwd ms | bwd ms | fwd x floor | bwd x floor |", "|---" * 9 + "|"]
    for r in rows:
        n = r["B"] * r["L"] * r["D"] * 2  # bytes of one bf16 [B, L, D] tensor
        f = "" if bw is None else f"{r['fwd_ms'] * 1e-3 / (2 * n / bw):.2f}"
        g = "" if bw is None else f"{r['bwd_ms'] * 1e-3 / (3 * n / bw):.2f}"
        lines.append(f"| {r['B']} | {r['L']} | {r['D']} | {r['variant']} | {r['tile'] or ''} | {r['fwd_ms']:.3f} | "
                     f"{r['bwd_ms']:.3f} | {f} | {g} |")
    return "\n".join(lines)


def main():
    if ARGS.regs:
        regs()
        return
    device = ARGS.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: use --device cpu --quick for the smoke test")
    tiles = TILES or [None]  # None: the module's tiles (and on the CPU the interpreter's)
    if device != "cuda":
        tiles = [None]
    shapes = [(1, 37, 16)] if ARGS.quick else SHAPES
    bw = copy_bandwidth(device)
    bench = timer(device)
    rows = [r for s in shapes for r in bench_shape(*s, device, bench, tiles)]
    md = table(rows, bw)
    head = (f"{torch.cuda.get_device_name() if device == 'cuda' else 'cpu (interpreter)'}, triton {triton.__version__}"
            + ("" if bw is None else f", copy bandwidth {bw / 1e12:.2f} TB/s")
            + ("" if causal_conv1d_fn is not None else ", causal_conv1d not importable"))
    print(head + "\n\n" + md)
    if ARGS.out:
        Path(ARGS.out).parent.mkdir(parents=True, exist_ok=True)
        Path(ARGS.out).write_text(head + "\n\n" + md + "\n")
        Path(ARGS.out).with_suffix(".json").write_text(json.dumps({"header": head, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
