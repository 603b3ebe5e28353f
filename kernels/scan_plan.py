"""How one selective-scan call is tiled and chunked: each pass's tile sizes, the chunking of L that fills
the GPU, the register caps, the L2 prefetch distance, and the GENOMAMBA_SCAN_* settings that override them
(benchmark sweeps). Host code only; `genomamba_kernels.selective_scan` launches its kernels by a `_Plan`.
Imports torch and triton only."""

from __future__ import annotations

import math
import os

import torch
import triton
from genomamba_kernels.common import _num_sms


class _Cfg:
    """Tile sizes of one pass (forward or backward)."""

    def __init__(self, Dm, N, L, G, block_d, block_l, num_warps, di=1):
        dpg = Dm // G
        bd = 1
        while bd * 2 <= block_d and (G == 1 or dpg % (bd * 2) == 0):  # a d-block never straddles groups
            bd *= 2
        if G == 1:
            bd = min(bd, triton.next_power_of_2(Dm))
        self.BLOCK_D, self.BLOCK_N = bd, triton.next_power_of_2(N)
        self.BLOCK_L = min(block_l, max(16, triton.next_power_of_2(L)))
        self.num_warps, self.dpg = num_warps, dpg
        self.DI = min(di, bd)  # backward: channels per lane (a power of two, so it divides BLOCK_D)
        self.n_dblk = triton.cdiv(Dm, bd)
        self.n_tiles = triton.cdiv(L, self.BLOCK_L)
        # backward: one fp32 state checkpoint per CKPT_TILES tiles (~_env_int("CKPT_STEPS") steps) keeps
        # its memory below mamba-ssm's; the tiles in between are rescanned into a per-program scratch
        self.CKPT_TILES = max(1, _env_int("CKPT_STEPS") // self.BLOCK_L)
        self.n_ck = triton.cdiv(self.n_tiles, self.CKPT_TILES)

    def even(self, Dm: int, N: int) -> bool:
        """Whether whole tiles (the backward: whole checkpoint groups) load with no masks: D and N fill whole
        blocks and GENOMAMBA_SCAN_UNMASKED=1 asks for it. Off by default until measured on a GPU: 23% fewer
        instructions a forward tile statically (BENCHMARKS.md 7o); off, the kernels compile to the same SASS
        as the measured code."""
        return Dm % self.BLOCK_D == 0 and N == self.BLOCK_N and _env_int("UNMASKED") != 0


# (BLOCK_D, BLOCK_L, num_warps[, DI]) of the forward pass, the backward (2 channels a lane) and its checkpoint
# pass on CUDA, from the sweeps of benchmarks/kernels/bench_scan_layout.py (BENCHMARKS.md 7d, 7e, 7g, 7k); the
# interpreter uses small tiles (DI=2, so the CPU tests cover the multi-channel lanes).
_FWD_CFG, _BWD_CFG, _CKPT_CFG, _CPU_CFG = (32, 8, 1), (16, 4, 1, 2), (16, 8, 1), (4, 16, 4, 2)
# BENCHMARKS.md 7d, 7e, 7h, 7j; BWD_MULT and PASS1_SPLIT 0: picked by the plan
_ENV_INT_DEFAULTS = {"CKPT_STEPS": 16, "BWD_WARPS_PER_SM": 32, "FWD_WARPS_PER_SM": 16, "BWD_MULT": 0, "PASS1_SPLIT": 0,
                     "UNMASKED": 0}


def _env_int(name: str) -> int:
    """GENOMAMBA_SCAN_{CKPT_STEPS,BWD_WARPS_PER_SM,FWD_WARPS_PER_SM,BWD_MULT,PASS1_SPLIT,UNMASKED}, read
    at each plan or launch (benchmark sweeps and tests), or the default."""
    return int(os.environ.get(f"GENOMAMBA_SCAN_{name}", _ENV_INT_DEFAULTS[name]))


def _env_cfg(prefix: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """GENOMAMBA_SCAN_{FWD,BWD,CKPT_PASS}=BLOCK_DxBLOCK_LxWARPS[xDI] overrides a pass's tiles (benchmark
    sweeps; DI, the backward's channels per lane, defaults to 1)."""
    v = os.environ.get(f"GENOMAMBA_SCAN_{prefix}")
    return tuple(int(x) for x in v.split("x")) if v else default


def _reg_cap(prefix: str, x: torch.Tensor) -> dict:
    """The register cap a thread of a pass's CUDA kernels (`_MAXNREG`, or GENOMAMBA_SCAN_{FWD,BWD,CKPT_PASS}_MAXNREG=R;
    0: none): more warps fit a SM, and ptxas spills beyond R."""
    v = int(os.environ.get(f"GENOMAMBA_SCAN_{prefix}_MAXNREG", _MAXNREG.get(prefix, 0)))
    return {"maxnreg": v} if v and x.is_cuda else {}


# 128 registers = 64 K / (16 warps x 32 lanes): 16 one-warp programs a SM, as FWD_WARPS_PER_SM plans the forward's
# chunks for. Uncapped, the forward passes took 146 registers and the checkpoint pass 134, which fit 12 a SM
# (registers are handed out per sub-partition, cuda_occupancy.h): the forward ran 1.3 waves. BENCHMARKS.md 7l.
_MAXNREG = {"FWD": 128, "CKPT_PASS": 128}


def _pf(plan: "_Plan", u: torch.Tensor) -> int:
    return plan.pf if u.stride(-1) != 1 else 0


def _prefetch_steps() -> int:
    """GENOMAMBA_SCAN_PREFETCH=STEPS sets the scan kernels' L2 prefetch distance (0: none)."""
    return int(os.environ.get("GENOMAMBA_SCAN_PREFETCH", _PF_STEPS))


_PF_STEPS = 16  # BENCHMARKS.md 7l: 8-32 within 1%, 64 and 128 slower, none 15-20% slower


class _Plan:
    """Tile sizes of both passes and the chunking of L for one call (shared by forward and backward)."""

    def __init__(self, Bsz, Dm, N, L, G, device, chunk_size=None):
        cuda = device.type == "cuda"
        self.f = _Cfg(Dm, N, L, G, *_env_cfg("FWD", _FWD_CFG if cuda else _CPU_CFG))
        self.b = _Cfg(Dm, N, L, G, *_env_cfg("BWD", _BWD_CFG if cuda else _CPU_CFG))
        self.k = self._ckpt_cfg(Dm, N, L, G, _env_cfg("CKPT_PASS", _CKPT_CFG if cuda else _CPU_CFG))
        # chunks are whole forward tiles and whole backward checkpoint groups (the lcm: a group of CKPT_STEPS=24 is
        # no multiple of 16-step forward tiles, and a tile past a chunk's end would scan into the next chunk)
        unit = math.lcm(self.f.BLOCK_L, self.b.BLOCK_L * self.b.CKPT_TILES)
        n_units = triton.cdiv(L, unit)
        target = _env_int("FWD_WARPS_PER_SM") * _num_sms(device) // self.f.num_warps  # forward programs that fit
        if chunk_size is None:
            # as many chunks as keep the forward within ~FWD_WARPS_PER_SM warps per SM, never more: past
            # it a partial extra wave costs more than the idle slots (B=64 L=8k: 2 chunks 4.38 ms, 3
            # chunks 5.04 ms; BENCHMARKS.md 7h)
            nc = min(n_units, max(1, target // (Bsz * self.f.n_dblk)))
        else:
            nc = triton.cdiv(L, max(chunk_size, 1))
        units_per_chunk = triton.cdiv(n_units, nc)
        self.chunk_len = units_per_chunk * unit
        self.n_chunks = triton.cdiv(n_units, units_per_chunk)
        # Pass 1 scans the first n_chunks - 1 chunks in scan order. With few chunks (a large batch) its programs
        # would fill part of the GPU (B=64 L=8k: 1,024 one-warp programs, half the 16 warps a SM), so it scans
        # pass1_split equal parts of each chunk, whose states the combine joins (GENOMAMBA_SCAN_PASS1_SPLIT=K).
        split = _env_int("PASS1_SPLIT")
        if not split and cuda and chunk_size is None and self.n_chunks > 1:
            split = target // ((self.n_chunks - 1) * Bsz * self.f.n_dblk)
        tiles = self.chunk_len // self.f.BLOCK_L
        split = max(1, min(split, tiles))
        while tiles % split:  # parts of whole tiles
            split -= 1
        self.pass1_split = split
        # The backward's chunks join bwd_mult forward chunks: its per-program scratch grows with the
        # number of programs, so it runs fewer, longer ones (~BWD_WARPS_PER_SM warps per SM).
        mult = _env_int("BWD_MULT")
        if not mult and cuda and chunk_size is None:
            warps = _env_int("BWD_WARPS_PER_SM") * _num_sms(device)
            want = max(1, triton.cdiv(warps // self.b.num_warps, Bsz * self.b.n_dblk))
            mult = max(1, self.n_chunks // want)
        self.bwd_mult = max(1, min(mult or 1, self.n_chunks))
        # L2 prefetch distance in steps (0: off). Only on CUDA (the interpreter runs no inline asm),
        # and only for channel-last inputs: L-contiguous rows already bring 16 steps per sector.
        self.pf = _prefetch_steps() if cuda else 0
        self.chunk_len_b = self.chunk_len * self.bwd_mult
        self.n_chunks_b = triton.cdiv(self.n_chunks, self.bwd_mult)

    def _ckpt_cfg(self, Dm, N, L, G, cfg) -> _Cfg:
        """Tiles of the backward's checkpoint pass: its own (it keeps no adjoint tiles, so smaller
        d-blocks fit in fewer registers), provided its tiles divide the backward's checkpoint groups;
        else the backward's."""
        k, group = _Cfg(Dm, N, L, G, *cfg), self.b.BLOCK_L * self.b.CKPT_TILES
        if group % k.BLOCK_L:
            return self.b
        k.CKPT_TILES, k.n_ck = group // k.BLOCK_L, self.b.n_ck
        return k
