"""Registers, spills and warp shuffles of the scan kernels for sm_90, compiled here (no GPU needed).

    python benchmarks/kernels/regs.py fwd 32x8x1 32x4x1 ...   # BLOCK_DxBLOCK_LxWARPS
    python benchmarks/kernels/regs.py bwd 16x4x1 32x2x1x2 --ckpt-tiles 8  # BDxBLxWARPS[xDI]
    python benchmarks/kernels/regs.py fwd 32x8x1 --l-contig --sass  # L-contiguous launch; static SASS mix
    PYTHONPATH=/tmp/t36 python benchmarks/kernels/regs.py ...  # pip install --target /tmp/t36 triton==3.6.0

Kernels: fwd, state (the forward's chunk-state pass), state_bwd (its backward mode), bwd. Pointers
are bf16 (u, delta, z, B, C, y, dy, du) or fp32 (states, A, D, bias, grads of B/C); pointers and
ints are marked 16-divisible as a launch at the model's sizes specialises them, except L and the
kernel's `do_not_specialize` arguments (`--no-divisibility`: none marked, which once hid a layout
change: BENCHMARKS.md 7i). Occupancy is the
warps a SM that fit in its registers (`warps_per_sm`). The figures depend on the Triton version: the GPU image
has Triton 3.6 (the old forward took 241 registers there, 166 under 3.9), so compare under 3.6.
A `shfl` in a kernel whose lanes each hold a channel means a layout put N or L across lanes.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import tempfile
import types

import triton
from genomamba_kernels import scan_plan
from genomamba_kernels import selective_scan as ss
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

CUOBJDUMP = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
FP32 = {"A_ptr", "D_ptr", "bias_ptr", "hs_ptr", "final_ptr", "S_ptr", "P_ptr", "G_ptr", "ck_ptr", "sc_ptr", "E_ptr",
        "dA_ptr", "dB_ptr", "dC_ptr", "dD_ptr", "dbias_ptr", "dh0_ptr"}


L_STRIDES = ("stride_ul", "stride_zl", "stride_bl", "stride_dzl", "stride_dbl")
# the forward passes take their L strides as constexprs; a channel-last launch at the model's sizes passes these
# (u and delta [B, L, 512], z a half of xz [B, L, 1024], B and C slices of x_proj's output [B, L, 16 + 2 x 16])
CHANNEL_LAST_L_STRIDES = {"stride_ul": 512, "stride_zl": 1024, "stride_bl": 48}


def compile_kernel(fn, constexprs: dict, num_warps: int, maxnreg: int | None = None, divisibility: bool = True,
                   l_contig: bool = False):
    params = inspect.signature(fn.fn).parameters
    names = list(params)
    fixed = {n: v for n, v in CHANNEL_LAST_L_STRIDES.items() if n in names and params[n].annotation is not inspect._empty}
    constexprs = dict(fixed, **constexprs)
    generic = {names[i] if isinstance(i, int) else i for i in fn.do_not_specialize} | {"L"}
    if l_contig:  # L-contiguous inputs: a launch specialises their unit L strides to the constant 1
        constexprs = dict(constexprs, **{n: 1 for n in L_STRIDES if n in names and n not in generic})
    sig = {}
    for n in names:
        if n in constexprs:
            sig[n] = "constexpr"
        elif n.endswith("_ptr"):
            sig[n] = "*i32" if n == "seq_ptr" else "*fp32" if n in FP32 else "*bf16"
        else:
            sig[n] = "i32"
    attrs = {(i,): [["tt.divisibility", 16]] for i, n in enumerate(names)
             if divisibility and n not in constexprs and n not in generic}
    src = ASTSource(fn, sig, constexprs={(names.index(k),): v for k, v in constexprs.items()}, attrs=attrs)
    k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": num_warps, **({"maxnreg": maxnreg} if maxnreg else {})})
    with tempfile.TemporaryDirectory() as d:  # resource usage of the cubin Triton built
        cubin = os.path.join(d, "k.cubin")
        with open(cubin, "wb") as f:
            f.write(k.asm["cubin"])
        out = subprocess.run([CUOBJDUMP, "--dump-resource-usage", cubin], capture_output=True, text=True, check=True).stdout
        sass = subprocess.run([CUOBJDUMP, "--dump-sass", cubin], capture_output=True, text=True, check=True).stdout
    regs = int(re.search(r"REG:(\d+)", out).group(1))
    stack = int(re.search(r"STACK:(\d+)", out).group(1))
    ops = sass_ops(sass)
    return regs, stack, len(re.findall(r"shfl\.sync", k.asm["ptx"])), sass_mix(ops), loop_sizes(ops)


SASS_CLASSES = {"FFMA": "fma", "FMUL": "fma", "FADD": "fma", "MUFU": "exp/rcp", "SHFL": "shfl", "LDG": "load",
                "LDS": "shared", "STS": "shared", "LDL": "spill", "STL": "spill", "STG": "store", "RED": "atomic",
                "REDG": "atomic", "ATOMG": "atomic", "ATOM": "atomic", "FSEL": "select", "SEL": "select", "MOV": "move",
                "PRMT": "move"}


def sass_ops(sass: str) -> list[tuple[int, str, str]]:
    """(address, opcode with its modifiers, operands) of each instruction in a cuobjdump --dump-sass listing."""
    return [(int(a, 16), op, rest) for a, op, rest in
            re.findall(r"/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9.]*)([^\n]*)", sass)]


def sass_mix(ops: list[tuple[int, str, str]]) -> dict[str, int]:
    """Static SASS instruction counts by class (each loop body counted once: a proxy for the work a
    step issues; ncu showed the scan backward bound by instruction issue, BENCHMARKS.md 7j)."""
    mix: dict[str, int] = {"all": len(ops)}
    for _, op, _ in ops:
        cls = SASS_CLASSES.get(op.split(".")[0])
        if cls:
            mix[cls] = mix.get(cls, 0) + 1
    return mix


def loop_sizes(ops: list[tuple[int, str, str]]) -> list[int]:
    """Static SASS instructions in each loop body (the code between a backward branch and its target), in
    address order: a tile's cost in the kernel's loops over tiles (an outer loop counts its inner ones)."""
    loops = []
    for addr, op, rest in ops:
        target = re.search(r"0x([0-9a-f]+)", rest) if op.startswith("BRA") else None
        if target and int(target.group(1), 16) < addr:
            loops.append((int(target.group(1), 16), addr))
    return [sum(lo <= a <= hi for a, _, _ in ops) for lo, hi in sorted(loops)]


PASS = {"fwd": "FWD", "state": "FWD", "state_bwd": "CKPT_PASS", "bwd": "BWD"}  # whose register cap a launch applies
ON_CUDA = types.SimpleNamespace(is_cuda=True)  # the launch's cap rule (`_reg_cap`) asked as for a CUDA tensor


def warps_per_sm(regs: int, num_warps: int) -> int:
    """Warps of a kernel that fit on a Hopper SM by registers: each of its 4 sub-partitions has 16 K registers,
    handed out per warp in units of 256 (`cudaOccMaxBlocksPerSMRegsLimit` in cuda_occupancy.h). 146 registers fit 3
    warps a sub-partition, 12 a SM, not the 14 that 64 K / (146 x 32) suggests; 128 fit 16."""
    per_warp = -(-max(regs, 1) * 32 // 256) * 256
    fit = 4 * (16384 // per_warp)  # warps, in whole sub-partition slots
    return min(64, fit // num_warps * num_warps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kernel", choices=["fwd", "state", "state_bwd", "bwd"])
    ap.add_argument("cfgs", nargs="+")
    ap.add_argument("--ckpt-tiles", type=int, default=None,
                    help="tiles a checkpoint group (default: as a launch, CKPT_STEPS / BLOCK_L)")
    ap.add_argument("--pf", type=int, default=scan_plan._prefetch_steps(), help="prefetch distance (default: a launch's)")
    ap.add_argument("--no-divisibility", action="store_true", help="mark no argument 16-divisible")
    ap.add_argument("--sass", action="store_true", help="also the static SASS instruction mix by class")
    ap.add_argument("--l-contig", action="store_true", help="L-contiguous inputs (unit L strides specialised to 1)")
    ap.add_argument("--unmasked", action="store_true",
                    help="whole tiles (the backward: groups) with no masks, as GENOMAMBA_SCAN_UNMASKED=1 launches them")
    ap.add_argument("--maxnreg", type=int, default=None,
                    help="cap registers a thread (ptxas spills beyond it; default: a launch's cap, 0: none)")
    a = ap.parse_args()
    common = {"HAS_Z": True, "HAS_BIAS": True, "SOFTPLUS": True, "IS_VARLEN": False, "REVERSE": False, "BLOCK_N": 16,
              "PF": a.pf}
    # a launch at the model's sizes (D and N fill their blocks) runs whole tiles and groups unmasked where
    # GENOMAMBA_SCAN_UNMASKED (or --unmasked) asks for it
    even = a.unmasked or scan_plan._env_int("UNMASKED") != 0
    for c in a.cfgs:
        bd, bl, w, *di = (int(x) for x in c.split("x"))
        t = dict(common, BLOCK_D=bd, BLOCK_L=bl)
        ckpt_tiles = a.ckpt_tiles or max(1, scan_plan._env_int("CKPT_STEPS") // bl)
        if a.kernel == "fwd":
            fn, ce = ss._selective_scan_fwd_kernel, dict(t, HAS_D=True, HAS_FINAL=False, ACCUM=False, EVEN=even)
        elif a.kernel == "state":
            fn, ce = ss._selective_scan_chunk_state_kernel, dict(t, HAS_Z=False, BWD=False, CKPT_TILES=1, EVEN=even)
        elif a.kernel == "state_bwd":
            fn, ce = ss._selective_scan_chunk_state_kernel, dict(t, BWD=True, CKPT_TILES=ckpt_tiles, EVEN=even)
        else:
            fn, ce = ss._selective_scan_bwd_kernel, dict(t, HAS_D=True, HAS_DH0=False, ACCUM=False, STORE_Y=False,
                                                          CKPT_TILES=ckpt_tiles, DI=di[0] if di else 1, EVEN=even)
        cap = a.maxnreg if a.maxnreg is not None else scan_plan._reg_cap(PASS[a.kernel], ON_CUDA).get("maxnreg")
        regs, stack, shfl, mix, loops = compile_kernel(fn, ce, w, cap or None, not a.no_divisibility, a.l_contig)
        warps = warps_per_sm(regs, w)
        print(f"{a.kernel} {c}: {regs} registers, {stack} bytes of stack (spills), {shfl} shfl in the PTX, ~{warps} warps/SM")
        if a.sass:
            print("  SASS (static): " + ", ".join(f"{k} {v}" for k, v in sorted(mix.items(), key=lambda kv: -kv[1])))
            print(f"  loop bodies (static instructions, address order): {loops}")


if __name__ == "__main__":
    main()
