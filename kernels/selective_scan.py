"""Fused chunked selective scan (Mamba-1, Gu & Dao 2023, arXiv:2312.00752) in Triton.

The sequence is cut into chunks so that batch 1 at L=131072 still fills the GPU:
  1. `_selective_scan_chunk_state_kernel`: per (d-block, chunk, batch), the chunk's end state from
     a zero start and its total decay exp(A sum(delta)) (not for the last chunk in scan order, whose
     end state starts no chunk; the pass is skipped with a single chunk; with few chunks it runs on
     equal parts of each, so that its grid fills the GPU too);
  2. `_chunk_combine_kernel`: a short sequential pass over chunks -> each chunk's start state;
  3. `_selective_scan_fwd_kernel`: rescans each chunk from its start state and writes y.
States are fp32 `[N, D]` tiles, channels fastest. As compiled for a launch at the model's sizes
(16-divisible D), Triton vectorises the state accesses 4 channels a lane and spreads N over 4 lanes,
so y = sum_n C h takes two shuffle rounds; forcing a channel's N states into one lane (with
16-byte B/C row loads) was slower (BENCHMARKS.md 7i). The forward passes load a tile of BLOCK_L steps
(`[BLOCK_D, BLOCK_L]`, steps in-thread) and then step through it (a step's column is a register
pick), storing y once per tile: every load of the tile is in flight before any store. Their addresses are
64-bit tile bases plus immediates (the L strides are constexprs); under GENOMAMBA_SCAN_UNMASKED=1 whole
tiles of whole blocks load with no masks (BENCHMARKS.md 7o). The backward
stores nothing per step: from the saved chunk-start states it rescans each chunk, keeping one fp32
state per 16 steps (`BWD` mode of the chunk-state kernel, which also forms each chunk's local
adjoint), combines adjoints across chunks right to left, then `_selective_scan_bwd_kernel` rescans
each group of tiles (`[BLOCK_L, N, BLOCK_D]` tiles, `tl.associative_scan` in-thread) into a
per-program scratch and runs the adjoint recurrence tile by tile against scan order. Tile
positions are kept in scan order (reversed addresses when `reverse`): Triton lowers reverse scans
with warp shuffles. `seq_idx` resets multiply that step's decay by zero. The state is fp32
whatever the input dtype. How a call is tiled and chunked is `scan_plan._Plan`; the layouts the kernels
take, and the copies that bring other inputs to them, are `scan_layout`. Imports torch and triton only.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from genomamba_kernels.common import LOG2E, _debug, _empty, _sigmoid, _softplus
from genomamba_kernels.scan_layout import _bc_grad, _from_nd, _match, _prep, _to_caller, _to_nd
from genomamba_kernels.scan_plan import _Plan, _pf, _reg_cap

# Channel-last inputs have unit D and N strides. Specialised to 1, Triton would vectorise the
# loads along D and spread a tile's steps over lanes, and every scan would then need warp
# shuffles; left generic, each lane keeps one channel and its steps, as in the L-contiguous layout.
_UNIT_STRIDES = ["stride_ud", "stride_zd", "stride_bn"]


# ----------------------------------------------------------------------------------------------
# shared jit helpers


@triton.jit
def _lin_combine(a1, b1, a2, b2):
    # (a1, b1) is the earlier element in scan order: h = a2 (a1 h + b1) + b2.
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _prefetch(ptrs):
    # an L2 prefetch of every address in ptrs (a hint: no register holds the data, nothing waits)
    tl.inline_asm_elementwise("prefetch.global.L2 [$1];\n\tmov.u32 $0, 0;", "=r,l", [ptrs], dtype=tl.int32,
                              is_pure=False, pack=1)


@triton.jit
def _pf_steps(base, t_first, L, stride_l, nw, BL: tl.constexpr, W: tl.constexpr):
    # L2 prefetch of the rows of steps t_first .. t_first + BL - 1 (clamped in bounds), each its first nw <= W
    # elements from base at unit stride, two addresses per 32-byte sector (the row's ends included, however it
    # is aligned). The index is a fresh arange, so Triton spreads it over the lanes, about one address a lane;
    # prefetching each lane's own tile elements had cost a CCTL per step, tensor and lane, and their addresses
    SE: tl.constexpr = 256 // base.dtype.element_ty.primitive_bitwidth  # elements per 32-byte sector
    NA: tl.constexpr = 2 * ((W + SE - 1) // SE)
    tp = tl.minimum(tl.maximum(t_first + tl.arange(0, BL)[:, None], 0), L - 1)
    _prefetch(base + tp * stride_l + tl.minimum(tl.arange(0, NA)[None, :] * (SE // 2), nw - 1))


@triton.jit
def _pf_scan_rows(u_b, dl_b, B_b, t_first, L, stride_ul, stride_bl, nd, Nn, BL: tl.constexpr, W: tl.constexpr,
                  BN: tl.constexpr):
    # prefetch what a scan step reads, for steps t_first .. t_first + BL - 1: u and delta (u_b, dl_b at the
    # d-block's first channel, nd channels of W) and B (Nn states of BN)
    _pf_steps(u_b, t_first, L, stride_ul, nd, BL, W)
    _pf_steps(dl_b, t_first, L, stride_ul, nd, BL, W)
    _pf_steps(B_b, t_first, L, stride_bl, Nn, BL, BN)


@triton.jit
def _pf_adjoint_rows(C_b, dout_b, z_b, t_first, L, stride_bl, stride_ul, stride_zl, nd, Nn, BL: tl.constexpr,
                     W: tl.constexpr, BN: tl.constexpr, HAS_Z: tl.constexpr):
    # prefetch what the backward's walk reads besides the scan's inputs: C, dy and z (dout_b, z_b at the d-block's
    # first channel), for steps t_first .. t_first + BL - 1
    _pf_steps(C_b, t_first, L, stride_bl, Nn, BL, BN)
    _pf_steps(dout_b, t_first, L, stride_ul, nd, BL, W)
    if HAS_Z:
        _pf_steps(z_b, t_first, L, stride_zl, nd, BL, W)


@triton.jit
def _seq_keep(seq_b, t, ml, L, REVERSE: tl.constexpr):
    """1.0 per step of t, or 0.0 where a packed sequence starts (seq_idx differs from the step
    before in scan order): the factor that resets the state there."""
    if REVERSE:
        tp = t + 1
    else:
        tp = t - 1
    inb = ml & (tp >= 0) & (tp < L)
    s_cur = tl.load(seq_b + t, mask=ml, other=0)
    s_prev = tl.load(seq_b + tp, mask=inb, other=0)
    return tl.where(inb & (s_cur != s_prev), 0.0, 1.0)


@triton.jit
def _ld(ptrs, mask, MASKED: tl.constexpr):
    """A load as fp32, masked with a zero fill, or (not MASKED: all in bounds) with no mask, which saves the
    fill's PRMT and the predicate (BENCHMARKS.md 7o)."""
    if MASKED:
        return tl.load(ptrs, mask=mask, other=0.0).to(tl.float32)
    else:
        return tl.load(ptrs).to(tl.float32)


@triton.jit
def _st(ptrs, x, mask, MASKED: tl.constexpr):
    """A store in the pointers' dtype, masked or (not MASKED) not, as `_ld`."""
    if MASKED:
        tl.store(ptrs, x.to(ptrs.dtype.element_ty), mask=mask)
    else:
        tl.store(ptrs, x.to(ptrs.dtype.element_ty))


@triton.jit
def _load_u_delta(u_b, dl_b, p, m, bias, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, MASKED: tl.constexpr = True):
    """u and delta at offsets p (mask m, unless not MASKED: all in bounds) as fp32: (u, delta + bias, softplus
    of it, 0 where masked). bias comes broadcast to p's shape."""
    u = _ld(u_b + p, m, MASKED)
    dl_pre = _ld(dl_b + p, m, MASKED)
    if HAS_BIAS:
        dl_pre = dl_pre + bias
    if SOFTPLUS:
        dl = _softplus(dl_pre)
    else:
        dl = dl_pre
    if MASKED:
        dl = tl.where(m, dl, 0.0)
    return u, dl_pre, dl


@triton.jit
def _tile_coeffs(u_b, dl_b, B_b, seq_b, A2, bias, d2, mask_d, offs_n, mask_n, t, L, stride_ud,
                 stride_ul, stride_bn, stride_bl, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, IS_VARLEN: tl.constexpr,
                 REVERSE: tl.constexpr, MASKED: tl.constexpr = True):
    """Loads one backward tile and forms a = exp(delta A) (times the seq_idx keep) and b = delta u B.

    Tiles are `[BL, DI, BN, DO]` (see `_selective_scan_bwd_kernel`); u and delta `[BL, DI, DO]`, B `[BL, BN]`.
    Padded steps (t >= L) get a = 1, b = 0: the identity, so carries pass through them.
    """
    ml = t < L
    m2 = ml[:, None, None] & mask_d[None, :, :]
    p2 = t[:, None, None] * stride_ul + d2[None, :, :] * stride_ud
    u, dl_pre, dl = _load_u_delta(u_b, dl_b, p2, m2, bias[None, :, :], HAS_BIAS, SOFTPLUS, MASKED)
    Bt = _ld(B_b + t[:, None] * stride_bl + offs_n[None, :] * stride_bn, ml[:, None] & mask_n[None, :], MASKED)
    a = tl.exp2(dl[:, :, None, :] * A2[None, :, :, :])
    if IS_VARLEN:
        a = a * _seq_keep(seq_b, t, ml, L, REVERSE)[:, None, None, None]
    b = (dl * u)[:, :, None, :] * Bt[:, None, :, None]
    return u, dl_pre, dl, Bt, a, b, m2, p2


@triton.jit
def _fwd_tile(h, p, gp, sdl, alive, t0, u_b, dl_b, z_b, y_b, dout_b, B_b, C_b, seq_b, A2, Dv, bias, mask_d, offs_n,
              mask_n, offs_l, offs_t, pl2, plz, pln, L, stride_ul, stride_zl, stride_bl,
              HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
              IS_VARLEN: tl.constexpr, REVERSE: tl.constexpr, WRITE_Y: tl.constexpr, ACCUM: tl.constexpr,
              ADJ: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr, MASKED: tl.constexpr):
    """One tile of `_fwd_sweep` from step t0. MASKED=False (a whole tile of whole d- and N-blocks, taken under
    GENOMAMBA_SCAN_UNMASKED=1: `_Cfg.even`) loads with no masks: a masked load with a zero fill costs a PRMT
    and a predicate, 1,467 -> 1,311 instructions a forward tile statically (BENCHMARKS.md 7o)."""
    # the tile's inputs first (nothing is stored before they are read: the loads overlap), then
    # step by step on [BN, BD]; a step's column of a [BD, BL] tile is a register pick (L is in-thread)
    t = t0 + offs_t
    ml = t < L
    m2 = mask_d[:, None] & ml[None, :]  # [BD, BL] tiles: channels first
    t0l = t0.to(tl.int64)
    tu, tz, tb = t0l * stride_ul, t0l * stride_zl, t0l * stride_bl
    u2, _, dl2 = _load_u_delta(u_b + tu, dl_b + tu, pl2, m2, bias[:, None], HAS_BIAS, SOFTPLUS, MASKED)
    w2 = dl2 * u2
    if (WRITE_Y or ADJ) and HAS_Z:
        z2 = _ld(z_b + tz + plz, m2, MASKED)
    if ADJ:
        dy2 = _ld(dout_b + tu + pl2, m2, MASKED)
        if HAS_Z:
            dy2 = dy2 * z2 * _sigmoid(z2)
    if IS_VARLEN:
        keep2 = _seq_keep(seq_b, t, ml, L, REVERSE)
    y2 = tl.zeros([BLOCK_D, BLOCK_L], tl.float32)
    for j in tl.static_range(BLOCK_L):  # position j = the tile's j-th step in scan order
        tj = t0 + (BLOCK_L - 1 - j if REVERSE else j)
        sel = (offs_l == j)[None, :]
        dl_j = tl.sum(tl.where(sel, dl2, 0.0), axis=1)
        w_j = tl.sum(tl.where(sel, w2, 0.0), axis=1)
        okn = tl.zeros_like(offs_n) + tj < L  # a vector mask: the interpreter takes no scalar & vector
        jb = (BLOCK_L - 1 - j if REVERSE else j) * stride_bl
        Bt = _ld(B_b + tb + jb + pln, mask_n & okn, MASKED)
        a = tl.exp2(dl_j[None, :] * A2)
        if IS_VARLEN:
            keep = tl.sum(tl.where(offs_l == j, keep2, 0.0), axis=0)
            a = a * keep
            if not ADJ and not WRITE_Y:
                alive = alive * keep
        h = a * h + w_j[None, :] * Bt[:, None]
        if WRITE_Y or ADJ:
            Ct = _ld(C_b + tb + jb + pln, mask_n & okn, MASKED)
        if WRITE_Y:
            y2 = tl.where(sel, tl.sum(h * Ct[:, None], axis=0)[:, None], y2)
        if ADJ:
            dy_j = tl.sum(tl.where(sel, dy2, 0.0), axis=1)
            p = p * a
            gp += p * (dy_j[None, :] * Ct[:, None])
    if not ADJ and not WRITE_Y:
        sdl += tl.sum(dl2, axis=1)
    if WRITE_Y:
        if HAS_D:
            y2 += Dv[:, None] * u2
        if HAS_Z:
            y2 = y2 * z2 * _sigmoid(z2)
        if ACCUM:
            y2 += _ld(y_b + tu + pl2, m2, MASKED)
        _st(y_b + tu + pl2, y2, m2, MASKED)
    return h, p, gp, sdl, alive


@triton.jit
def _fwd_sweep(h, u_b, dl_b, z_b, y_b, dout_b, B_b, C_b, seq_b, ck_b, A2, Dv, bias,
               offs_d, mask_d, offs_n, mask_n, offs_l, c_start, n_tiles, L, stride_ud, stride_ul, stride_zd, stride_zl,
               stride_bn, stride_bl, DN, Dm,
               HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
               IS_VARLEN: tl.constexpr, REVERSE: tl.constexpr, WRITE_Y: tl.constexpr, ACCUM: tl.constexpr,
               STORE_CKPT: tl.constexpr, ADJ: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_L: tl.constexpr, CKPT_TILES: tl.constexpr, PF: tl.constexpr,
               EVEN: tl.constexpr = False):
    """Scans one chunk in scan order from state h `[BN, BD]`.

    Per tile: its u, delta, z (and dy) as `[BD, BL]` loads, then BL unrolled steps h = a h + b on
    the state (no scan temporaries; the lane layout is Triton's, see the module docstring; 128
    registers on sm_90 under the forward's cap), y stored once per tile. Returns the end state, the
    chunk's total decay and (ADJ) the chunk's local adjoint sum_t (prod of a from the chunk's first
    step to t) * dy_t C_t. Checkpoints (STORE_CKPT) and L2 prefetches are per tile.

    Addresses are 64-bit: per-lane offsets fixed for the whole sweep, a tile offset t0 * stride added
    once a tile, and, with the L strides constexpr (the kernels' signatures), a step's offset within
    the tile a constant that folds into the load's immediate. With i32 offsets each load re-formed its
    64-bit address (two IADD3s): 1,703 instructions a forward tile, now 1,467 (BENCHMARKS.md 7o).
    """
    if REVERSE:
        offs_t = BLOCK_L - 1 - offs_l
    else:
        offs_t = offs_l
    p = tl.full([BLOCK_N, BLOCK_D], 1.0, tl.float32)
    gp = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    sdl = tl.zeros_like(Dv)  # sum of delta over the chunk: its total decay is exp2(A2 * sdl)
    alive = 1.0  # 0.0 once a packed sequence starts inside the chunk
    d0 = tl.min(offs_d, axis=0)  # the d-block's first channel, and its rows' lengths (for the prefetches)
    nd, Nn = tl.minimum(Dm - d0, BLOCK_D), tl.sum(mask_n.to(tl.int32), axis=0)
    mdn = mask_n[:, None] & mask_d[None, :]
    # 64-bit offsets within a tile, fixed across tiles: each load then adds an immediate to a per-lane base
    pl2 = offs_d[:, None].to(tl.int64) * stride_ud + offs_t[None, :] * stride_ul
    plz = offs_d[:, None].to(tl.int64) * stride_zd + offs_t[None, :] * stride_zl
    pln = offs_n.to(tl.int64) * stride_bn
    for k in range(n_tiles):
        if REVERSE:
            t0 = c_start + (n_tiles - 1 - k) * BLOCK_L
        else:
            t0 = c_start + k * BLOCK_L
        if STORE_CKPT:
            # the state entering each group of CKPT_TILES tiles in scan order
            if REVERSE:
                at_group_start = (k == 0) | (((t0 // BLOCK_L) + 1) % CKPT_TILES == 0)
            else:
                at_group_start = (t0 // BLOCK_L) % CKPT_TILES == 0
            if at_group_start:
                tl.store(ck_b + (t0 // (BLOCK_L * CKPT_TILES)) * DN + offs_n[:, None] * Dm + offs_d[None, :], h,
                         mask=mdn)
        PF_OFF: tl.constexpr = -PF if REVERSE else PF  # prefetch ahead in scan order
        if PF != 0:  # channel-last rows (PF is 0 for L-contiguous inputs): unit channel stride
            _pf_scan_rows(u_b + d0 * stride_ud, dl_b + d0 * stride_ud, B_b, t0 + PF_OFF, L, stride_ul, stride_bl, nd,
                          Nn, BLOCK_L, BLOCK_D, BLOCK_N)
            if WRITE_Y or ADJ:
                _pf_steps(C_b, t0 + PF_OFF, L, stride_bl, Nn, BLOCK_L, BLOCK_N)
                if HAS_Z:
                    _pf_steps(z_b + d0 * stride_zd, t0 + PF_OFF, L, stride_zl, nd, BLOCK_L, BLOCK_D)
            if ADJ:
                _pf_steps(dout_b + d0 * stride_ud, t0 + PF_OFF, L, stride_ul, nd, BLOCK_L, BLOCK_D)
        # whole tiles of whole d- and N-blocks (all but a chunk's last tile, when D and N fill their blocks) load
        # with no masks where EVEN (`_Cfg.even`)
        if EVEN and t0 + BLOCK_L <= L:
            h, p, gp, sdl, alive = _fwd_tile(
                h, p, gp, sdl, alive, t0, u_b, dl_b, z_b, y_b, dout_b, B_b, C_b, seq_b, A2, Dv, bias, mask_d, offs_n,
                mask_n, offs_l, offs_t, pl2, plz, pln, L, stride_ul, stride_zl, stride_bl, HAS_D, HAS_Z, HAS_BIAS,
                SOFTPLUS, IS_VARLEN, REVERSE, WRITE_Y, ACCUM, ADJ, BLOCK_D, BLOCK_L, False)
        else:
            h, p, gp, sdl, alive = _fwd_tile(
                h, p, gp, sdl, alive, t0, u_b, dl_b, z_b, y_b, dout_b, B_b, C_b, seq_b, A2, Dv, bias, mask_d, offs_n,
                mask_n, offs_l, offs_t, pl2, plz, pln, L, stride_ul, stride_zl, stride_bl, HAS_D, HAS_Z, HAS_BIAS,
                SOFTPLUS, IS_VARLEN, REVERSE, WRITE_Y, ACCUM, ADJ, BLOCK_D, BLOCK_L, True)
    if not ADJ and not WRITE_Y:
        p = tl.exp2(sdl[None, :] * A2) * alive
    return h, p, gp


@triton.jit
def _halve_last(x, R0: tl.constexpr, R1: tl.constexpr, H: tl.constexpr):
    a, b = tl.split(tl.reshape(x, [R0, R1, H, 2]))
    return a + b


@triton.jit
def _sum_lanes(x, R0: tl.constexpr, R1: tl.constexpr, W: tl.constexpr):
    """x `[R0, R1, W]` summed over its last axis (W a power of two <= 64) by halving with tl.split.

    A split keeps each pair in one thread, so Triton moves the values between lanes once and then adds
    in-thread; tl.sum over an axis spread on 8 lanes costs 3 shuffles and 3 adds a value (the backward's
    dB and dC: 96 of its 152 shuffles a tile, BENCHMARKS.md 7k)."""
    for i in tl.static_range(1, 7):
        if W >= (1 << i):
            x = _halve_last(x, R0, R1, W >> i)
    return tl.reshape(x, [R0, R1])


@triton.jit
def _bwd_group(E, dA_acc, dD_acc, db_acc, g0, u_b, dl_b, z_b, dout_b, du_b, ddl_b, dz_b, yo_b, B_b, C_b, dB_b, dC_b,
               seq_b, ck_b, sc_b, A2, Af, Dv, bias, d2, mask_d, offs_n, mask_n, offs_l, offs_t, L, stride_ud,
               stride_ul, stride_zd, stride_zl, stride_dzd, stride_dzl, stride_bn, stride_bl, stride_dbn, stride_dbl,
               DN, Dm, d0, nd, Nn, mdn, pdn_ck, pdn_loc,
               HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
               IS_VARLEN: tl.constexpr, REVERSE: tl.constexpr, ACCUM: tl.constexpr, STORE_Y: tl.constexpr,
               DI: tl.constexpr, DO: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
               CKPT_TILES: tl.constexpr, PF: tl.constexpr, PF_NEXT: tl.constexpr, PF_WALK: tl.constexpr,
               MASKED: tl.constexpr):
    """One checkpoint group of `_bwd_sweep` from step g0: its rescan into the scratch, then the walk back.
    MASKED=False (a whole group of whole d- and N-blocks, under GENOMAMBA_SCAN_UNMASKED=1: `_Cfg.even`) loads
    and stores with no masks (static SASS of the backward's group 1,687 -> 1,569 instructions, BENCHMARKS.md 7o)."""
    LAST: tl.constexpr = BLOCK_L - 1
    GROUP: tl.constexpr = BLOCK_L * CKPT_TILES
    nt = tl.minimum(CKPT_TILES, tl.cdiv(L - g0, BLOCK_L))
    h = _ld(ck_b + (g0 // GROUP) * DN + pdn_ck, mdn, MASKED)
    if CKPT_TILES > 1:
        for k in range(nt):
            if REVERSE:
                kk = nt - 1 - k
            else:
                kk = k
            t0 = g0 + kk * BLOCK_L
            t = t0 + offs_t
            tl.store(sc_b + kk * BLOCK_N * DI * DO + pdn_loc, h)
            if PF != 0:  # this group's other inputs, read by the walk back below
                _pf_adjoint_rows(C_b, dout_b + d0 * stride_ud, z_b + d0 * stride_zd, t0, L, stride_bl, stride_ul,
                                 stride_zl, nd, Nn, BLOCK_L, DI * DO, BLOCK_N, HAS_Z)
            if PF_NEXT != 0:  # the next group's u, delta and B
                _pf_scan_rows(u_b + d0 * stride_ud, dl_b + d0 * stride_ud, B_b, t0 + PF_NEXT, L, stride_ul,
                              stride_bl, nd, Nn, BLOCK_L, DI * DO, BLOCK_N)
            u, dl_pre, dl, Bt, a, b, m2, p2 = _tile_coeffs(
                u_b, dl_b, B_b, seq_b, A2, bias, d2, mask_d, offs_n, mask_n, t, L, stride_ud, stride_ul, stride_bn,
                stride_bl, HAS_BIAS, SOFTPLUS, IS_VARLEN, REVERSE, MASKED)
            acum, hb = tl.associative_scan((a, b), 0, _lin_combine)
            last = (offs_l == LAST)[:, None, None, None]
            h = tl.sum(tl.where(last, acum, 0.0), axis=0) * h + tl.sum(tl.where(last, hb, 0.0), axis=0)
        tl.debug_barrier()
    for k in range(nt):
        if REVERSE:
            kk = k
        else:
            kk = nt - 1 - k
        t0 = g0 + kk * BLOCK_L
        t = t0 + offs_t
        ml = t < L
        if CKPT_TILES > 1:
            h0 = tl.load(sc_b + kk * BLOCK_N * DI * DO + pdn_loc)
        else:
            h0 = h
        if PF_WALK != 0:
            _pf_adjoint_rows(C_b, dout_b + d0 * stride_ud, z_b + d0 * stride_zd, t0 + PF_WALK, L, stride_bl,
                             stride_ul, stride_zl, nd, Nn, BLOCK_L, DI * DO, BLOCK_N, HAS_Z)
            _pf_scan_rows(u_b + d0 * stride_ud, dl_b + d0 * stride_ud, B_b, t0 + PF_WALK, L, stride_ul, stride_bl,
                          nd, Nn, BLOCK_L, DI * DO, BLOCK_N)
        u, dl_pre, dl, Bt, a, b, m2, p2 = _tile_coeffs(
            u_b, dl_b, B_b, seq_b, A2, bias, d2, mask_d, offs_n, mask_n, t, L, stride_ud, stride_ul, stride_bn,
            stride_bl, HAS_BIAS, SOFTPLUS, IS_VARLEN, REVERSE, MASKED)
        mnl = ml[:, None] & mask_n[None, :]
        pbn = t[:, None] * stride_bl + offs_n[None, :] * stride_bn
        pdb = t[:, None] * stride_dbl + offs_n[None, :] * stride_dbn
        Ct = _ld(C_b + pbn, mnl, MASKED)[:, None, :, None]
        dout = _ld(dout_b + p2, m2, MASKED)
        acum, hb = tl.associative_scan((a, b), 0, _lin_combine)
        hs = acum * h0[None, :, :, :] + hb
        if HAS_Z:
            y = tl.sum(hs * Ct, axis=2)
            if HAS_D:
                y += Dv[None, :, :] * u
            pz = t[:, None, None] * stride_zl + d2[None, :, :] * stride_zd
            zz = _ld(z_b + pz, m2, MASKED)
            sg = _sigmoid(zz)
            dy = dout * zz * sg
            dz = dout * y * sg * (1.0 + zz * (1.0 - sg))
            pdz = t[:, None, None] * stride_dzl + d2[None, :, :] * stride_dzd
            if ACCUM:
                dz += _ld(dz_b + pdz, m2, MASKED)
            _st(dz_b + pdz, dz, m2, MASKED)
            if STORE_Y:
                _st(yo_b + p2, y * zz * sg, m2, MASKED)
        else:
            dy = dout
        c = dy[:, :, None, :] * Ct
        # adjoint g_i = c_i + a_{i+1} g_{i+1}, against scan order, unrolled over the (in-thread)
        # positions: the selects fold to register moves, where a reverse scan costs shuffles
        g = tl.zeros_like(c)
        for j in tl.static_range(BLOCK_L):
            sel = (offs_l == BLOCK_L - 1 - j)[:, None, None, None]
            g_i = tl.sum(tl.where(sel, c, 0.0), axis=0) + E
            g = tl.where(sel, g_i[None, :, :, :], g)
            E = tl.sum(tl.where(sel, a, 0.0), axis=0) * g_i
        hm = hs - b  # a_t h_{t-1}, without shifting the tile
        Bt4 = Bt[:, None, :, None]
        gB = tl.sum(g * Bt4, axis=2)
        gha = g * hm
        du = dl * gB
        if HAS_D:
            du += Dv[None, :, :] * dy
            dD_acc += tl.sum(dy * u, axis=0)
        ddl = u * gB + tl.sum(gha * Af[None, :, :, :], axis=2)
        dA_acc += tl.sum(gha * dl[:, :, None, :], axis=0)
        if SOFTPLUS:
            ddl = ddl * _sigmoid(dl_pre)
        if MASKED:
            ddl = tl.where(m2, ddl, 0.0)
        db_acc += tl.sum(ddl, axis=0)
        if ACCUM:
            du += _ld(du_b + p2, m2, MASKED)
        _st(du_b + p2, du, m2, MASKED)
        _st(ddl_b + p2, ddl, m2, MASKED)
        # channel sums: the DI channels in-thread first, then the DO lanes
        dBt = _sum_lanes(tl.sum(g * (dl * u)[:, :, None, :], axis=1), BLOCK_L, BLOCK_N, DO)
        dCt = _sum_lanes(tl.sum(dy[:, :, None, :] * hs, axis=1), BLOCK_L, BLOCK_N, DO)
        if MASKED:
            tl.atomic_add(dB_b + pdb, dBt, mask=mnl, sem="relaxed")
            tl.atomic_add(dC_b + pdb, dCt, mask=mnl, sem="relaxed")
        else:
            tl.atomic_add(dB_b + pdb, dBt, sem="relaxed")
            tl.atomic_add(dC_b + pdb, dCt, sem="relaxed")
    if CKPT_TILES > 1:
        tl.debug_barrier()  # the next group overwrites the scratch
    return E, dA_acc, dD_acc, db_acc


@triton.jit
def _bwd_sweep(E, u_b, dl_b, z_b, dout_b, du_b, ddl_b, dz_b, yo_b, B_b, C_b, dB_b, dC_b, seq_b, ck_b, sc_b,
               A2, Af, Dv, bias, d2, mask_d, offs_n, mask_n, offs_l, c_start, n_tiles, L, stride_ud,
               stride_ul, stride_zd, stride_zl, stride_dzd, stride_dzl, stride_bn, stride_bl, stride_dbn, stride_dbl,
               DN, Dm,
               HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
               IS_VARLEN: tl.constexpr, REVERSE: tl.constexpr, ACCUM: tl.constexpr, STORE_Y: tl.constexpr,
               DI: tl.constexpr, DO: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
               CKPT_TILES: tl.constexpr, PF: tl.constexpr, EVEN: tl.constexpr = False):
    """Adjoint scan over one chunk against scan order, from the adjoint E flowing in at its end.

    Tiles are `[BL, DI, BN, DO]`, states `[DI, BN, DO]` (channel d2 = DO i + o): the lanes hold DO
    channels and N, each lane DI channels, so the channel sums of dB and dC add DI values in-thread
    before one exchange between the DO lanes (`_sum_lanes`). The state is checkpointed every
    CKPT_TILES tiles; each group of tiles is first rescanned in scan order into the program's
    scratch sc (one state per tile, L1/L2-resident), then walked backwards. Returns the adjoint
    flowing out of the chunk's start (dL/dh before its first step) and this program's partial sums
    of dA, dD and d delta_bias. STORE_Y also writes the
    gated output y (recomputed here for dz) into yo, for a caller that did not keep it (the out_proj
    weight grad). PF != 0: the rescan of a group prefetches the next group's u, delta and B and this
    group's C, dy and z (the walk back then hits the cache); without groups the walk back prefetches
    PF steps ahead.
    """
    if REVERSE:  # positions in scan order, as in _fwd_sweep
        offs_t = BLOCK_L - 1 - offs_l
    else:
        offs_t = offs_l
    GROUP: tl.constexpr = BLOCK_L * CKPT_TILES
    # the next group (or, without groups, tile) walked is earlier in scan order
    if CKPT_TILES > 1:
        PF_NEXT: tl.constexpr = (GROUP if REVERSE else -GROUP) if PF != 0 else 0
        PF_WALK: tl.constexpr = 0
    else:
        PF_NEXT: tl.constexpr = 0
        PF_WALK: tl.constexpr = PF if REVERSE else -PF
    d0 = tl.min(tl.min(d2, axis=1), axis=0)  # the d-block's first channel, and its rows' lengths (prefetches)
    nd, Nn = tl.minimum(Dm - d0, DI * DO), tl.sum(mask_n.to(tl.int32), axis=0)
    offs_i = tl.arange(0, DI)
    offs_o = tl.arange(0, DO)
    mdn = mask_d[:, None, :] & mask_n[None, :, None]
    pdn_ck = offs_n[None, :, None] * Dm + d2[:, None, :]  # `[DI, BN, DO]` in an `[N, D]` array
    pdn_loc = (offs_i[:, None, None] * BLOCK_N + offs_n[None, :, None]) * DO + offs_o[None, None, :]
    # E as a sum over a tile's steps puts it in the tiles' layout (E loads as `[DI, BN, DO]` rows; carried in
    # that layout, the adjoint walk converted it twice a step: 100 instructions a tile and spills, 7k)
    E = tl.sum(tl.where((offs_l == 0)[:, None, None, None], E[None, :, :, :], 0.0), axis=0)
    dA_acc = tl.zeros([DI, BLOCK_N, DO], tl.float32)
    dD_acc = tl.zeros([DI, DO], tl.float32)
    db_acc = tl.zeros([DI, DO], tl.float32)
    n_groups = tl.cdiv(n_tiles, CKPT_TILES)
    for gi in range(n_groups):
        if REVERSE:
            g0 = c_start + gi * GROUP
        else:
            g0 = c_start + (n_groups - 1 - gi) * GROUP
        # whole groups of whole blocks: no masks (MASKED must be a constexpr, so the group is compiled twice)
        if EVEN and g0 + GROUP <= L:
            E, dA_acc, dD_acc, db_acc = _bwd_group(
                E, dA_acc, dD_acc, db_acc, g0, u_b, dl_b, z_b, dout_b, du_b, ddl_b, dz_b, yo_b, B_b, C_b, dB_b,
                dC_b, seq_b, ck_b, sc_b, A2, Af, Dv, bias, d2, mask_d, offs_n, mask_n, offs_l, offs_t, L, stride_ud,
                stride_ul, stride_zd, stride_zl, stride_dzd, stride_dzl, stride_bn, stride_bl, stride_dbn, stride_dbl,
                DN, Dm, d0, nd, Nn, mdn, pdn_ck, pdn_loc, HAS_D, HAS_Z, HAS_BIAS, SOFTPLUS, IS_VARLEN, REVERSE, ACCUM,
                STORE_Y, DI, DO, BLOCK_N, BLOCK_L, CKPT_TILES, PF, PF_NEXT, PF_WALK, False)
        else:
            E, dA_acc, dD_acc, db_acc = _bwd_group(
                E, dA_acc, dD_acc, db_acc, g0, u_b, dl_b, z_b, dout_b, du_b, ddl_b, dz_b, yo_b, B_b, C_b, dB_b,
                dC_b, seq_b, ck_b, sc_b, A2, Af, Dv, bias, d2, mask_d, offs_n, mask_n, offs_l, offs_t, L, stride_ud,
                stride_ul, stride_zd, stride_zl, stride_dzd, stride_dzl, stride_bn, stride_bl, stride_dbn, stride_dbl,
                DN, Dm, d0, nd, Nn, mdn, pdn_ck, pdn_loc, HAS_D, HAS_Z, HAS_BIAS, SOFTPLUS, IS_VARLEN, REVERSE, ACCUM,
                STORE_Y, DI, DO, BLOCK_N, BLOCK_L, CKPT_TILES, PF, PF_NEXT, PF_WALK, True)
    return E, dA_acc, dD_acc, db_acc


@triton.jit
def _load_params(A_ptr, D_ptr, bias_ptr, offs_d, mask_d, offs_n, mask_n, Dm,
                 HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr):
    # A is `[N, D]` (the kernels' state layout, channels fastest: see _prep)
    mdn = mask_n[:, None] & mask_d[None, :]
    Af = tl.load(A_ptr + offs_n[:, None] * Dm + offs_d[None, :], mask=mdn, other=0.0).to(tl.float32)
    Dv = tl.zeros_like(offs_d).to(tl.float32)
    bias = tl.zeros_like(offs_d).to(tl.float32)
    if HAS_D:
        Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    return Af, Af * LOG2E, Dv, bias


# ----------------------------------------------------------------------------------------------
# kernels


# The forward passes take their L strides (stride_ul, stride_zl, stride_bl) as constexprs: a model's are
# fixed by its widths, so each is one compile, and a step's offset in a tile becomes an immediate (see `_fwd_sweep`).
@triton.jit(do_not_specialize=_UNIT_STRIDES)
def _selective_scan_chunk_state_kernel(
    u_ptr, dl_ptr, A_ptr, B_ptr, bias_ptr, seq_ptr, dout_ptr, z_ptr, C_ptr, hs_ptr, S_ptr, P_ptr, G_ptr,
    ck_ptr, L, D, N, dpg, chunk_len, n_chunks, n_chunks_hs, hs_mult, c0, stride_ub, stride_ud, stride_ul: tl.constexpr,
    stride_zb, stride_zd, stride_zl: tl.constexpr, stride_bb, stride_bg, stride_bn, stride_bl: tl.constexpr, n_ck,
    HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, IS_VARLEN: tl.constexpr,
    REVERSE: tl.constexpr, BWD: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr, CKPT_TILES: tl.constexpr, PF: tl.constexpr,
    EVEN: tl.constexpr = False,
):
    """Forward (BWD=False): chunk end state S from zero and total decay P (chunk c0 + program_id(1)).
    Backward (BWD=True): rescan from the chunk-start state hs, store a state per tile in ck, and
    the chunk's local adjoint G and decay P."""
    pid_d, pid_c, pid_b = tl.program_id(0), tl.program_id(1) + c0, tl.program_id(2)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    offs_l = tl.arange(0, BLOCK_L)
    mask_d, mask_n = offs_d < D, offs_n < N
    mdn = mask_n[:, None] & mask_d[None, :]
    grp = (pid_d * BLOCK_D) // dpg
    Af, A2, Dv, bias = _load_params(A_ptr, A_ptr, bias_ptr, offs_d, mask_d, offs_n, mask_n, D, False, HAS_BIAS)
    c_start = pid_c * chunk_len
    n_tiles = tl.cdiv(tl.minimum(c_start + chunk_len, L) - c_start, BLOCK_L)
    pnd = offs_n[:, None] * D + offs_d[None, :]  # states are [N, D]
    cs = ((pid_b * n_chunks + pid_c) * D) * N
    if BWD:  # a backward chunk spans hs_mult forward chunks: it starts, in scan order, at the first of
        # them, or (REVERSE) at the last
        if REVERSE:
            c_hs = tl.minimum(pid_c * hs_mult + hs_mult - 1, n_chunks_hs - 1)
        else:
            c_hs = pid_c * hs_mult
        h = tl.load(hs_ptr + ((pid_b * n_chunks_hs + c_hs) * D) * N + pnd, mask=mdn, other=0.0)
    else:
        h = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    h, p, gp = _fwd_sweep(
        h, u_ptr + pid_b * stride_ub, dl_ptr + pid_b * stride_ub, z_ptr + pid_b * stride_zb, u_ptr,
        dout_ptr + pid_b * stride_ub, B_ptr + pid_b * stride_bb + grp * stride_bg,
        C_ptr + pid_b * stride_bb + grp * stride_bg, seq_ptr + pid_b * L, ck_ptr + pid_b * n_ck * D * N,
        A2, Dv, bias, offs_d, mask_d, offs_n, mask_n, offs_l, c_start, n_tiles, L, stride_ud, stride_ul, stride_zd,
        stride_zl, stride_bn, stride_bl, D * N, D,
        False, HAS_Z, HAS_BIAS, SOFTPLUS, IS_VARLEN, REVERSE, False, False, BWD, BWD,
        BLOCK_D, BLOCK_N, BLOCK_L, CKPT_TILES, PF, EVEN)
    tl.store(P_ptr + cs + pnd, p, mask=mdn)
    if BWD:
        tl.store(G_ptr + cs + pnd, gp, mask=mdn)
    else:
        tl.store(S_ptr + cs + pnd, h, mask=mdn)


@triton.jit
def _chunk_combine_kernel(S_ptr, P_ptr, init_ptr, out_ptr, DN, n_chunks,
                          HAS_INIT: tl.constexpr, REVERSE: tl.constexpr, BLOCK: tl.constexpr, UNROLL: tl.constexpr):
    """out[c] = state entering chunk c in scan order; h <- P[c] h + S[c]. S and out may alias.

    UNROLL chunks are loaded at once before any is stored: with one load after each store the
    pass waited a memory round trip per chunk (S and out may alias, so nothing reorders them)."""
    pid, pid_b = tl.program_id(0), tl.program_id(1)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    offs_u = tl.arange(0, UNROLL)
    m = offs < DN
    if HAS_INIT:
        h = tl.load(init_ptr + pid_b * DN + offs, mask=m, other=0.0).to(tl.float32)
    else:
        h = tl.zeros([BLOCK], tl.float32)
    for k0 in range(0, n_chunks, UNROLL):
        kk = k0 + offs_u
        if REVERSE:
            c = n_chunks - 1 - kk
        else:
            c = kk
        m2 = (kk < n_chunks)[:, None] & m[None, :]
        base = (pid_b * n_chunks + c)[:, None] * DN + offs[None, :]
        s = tl.load(S_ptr + base, mask=m2, other=0.0)
        p = tl.load(P_ptr + base, mask=m2, other=1.0)  # rows past the end are the identity, never stored
        out = tl.zeros([UNROLL, BLOCK], tl.float32)
        for i in tl.static_range(UNROLL):
            sel = (offs_u == i)[:, None]
            out = tl.where(sel, h[None, :], out)
            h = tl.sum(tl.where(sel, p, 0.0), axis=0) * h + tl.sum(tl.where(sel, s, 0.0), axis=0)
        tl.store(out_ptr + base, out, mask=m2)


@triton.jit(do_not_specialize=_UNIT_STRIDES)
def _selective_scan_fwd_kernel(
    u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, seq_ptr, hs_ptr, y_ptr, final_ptr,
    L, D, N, dpg, chunk_len, n_chunks, stride_ub, stride_ud, stride_ul: tl.constexpr, stride_zb, stride_zd,
    stride_zl: tl.constexpr, stride_bb, stride_bg, stride_bn, stride_bl: tl.constexpr,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    IS_VARLEN: tl.constexpr, REVERSE: tl.constexpr, HAS_FINAL: tl.constexpr, ACCUM: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr, PF: tl.constexpr, EVEN: tl.constexpr = False,
):
    """Pass 3: rescans each chunk from its start state and writes (ACCUM: adds into) y."""
    pid_d, pid_c, pid_b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    offs_l = tl.arange(0, BLOCK_L)
    mask_d, mask_n = offs_d < D, offs_n < N
    mdn = mask_n[:, None] & mask_d[None, :]
    grp = (pid_d * BLOCK_D) // dpg
    Af, A2, Dv, bias = _load_params(A_ptr, D_ptr, bias_ptr, offs_d, mask_d, offs_n, mask_n, D, HAS_D, HAS_BIAS)
    c_start = pid_c * chunk_len
    n_tiles = tl.cdiv(tl.minimum(c_start + chunk_len, L) - c_start, BLOCK_L)
    pnd = offs_n[:, None] * D + offs_d[None, :]  # states are [N, D]
    h = tl.load(hs_ptr + ((pid_b * n_chunks + pid_c) * D) * N + pnd, mask=mdn, other=0.0)
    ub = pid_b * stride_ub
    h, p, gp = _fwd_sweep(
        h, u_ptr + ub, dl_ptr + ub, z_ptr + pid_b * stride_zb, y_ptr + ub, u_ptr,
        B_ptr + pid_b * stride_bb + grp * stride_bg, C_ptr + pid_b * stride_bb + grp * stride_bg,
        seq_ptr + pid_b * L, hs_ptr, A2, Dv, bias, offs_d, mask_d, offs_n, mask_n, offs_l, c_start, n_tiles, L,
        stride_ud, stride_ul, stride_zd, stride_zl, stride_bn, stride_bl, D * N, D,
        HAS_D, HAS_Z, HAS_BIAS, SOFTPLUS, IS_VARLEN, REVERSE, True, ACCUM, False, False,
        BLOCK_D, BLOCK_N, BLOCK_L, 1, PF, EVEN)
    if HAS_FINAL:
        if pid_c == (0 if REVERSE else n_chunks - 1):
            tl.store(final_ptr + pid_b * D * N + pnd, h, mask=mdn)


@triton.jit(do_not_specialize=_UNIT_STRIDES + ["stride_dzd", "stride_dbn"])
def _selective_scan_bwd_kernel(
    u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, seq_ptr, dout_ptr, ck_ptr, sc_ptr, E_ptr,
    du_ptr, ddl_ptr, dz_ptr, yo_ptr, dA_ptr, dB_ptr, dC_ptr, dD_ptr, dbias_ptr, dh0_ptr,
    L, D, N, dpg, chunk_len, n_chunks, n_ck, stride_ub, stride_ud, stride_ul, stride_zb, stride_zd, stride_zl,
    stride_dzb, stride_dzd, stride_dzl, stride_bb, stride_bg, stride_bn, stride_bl, stride_dbb, stride_dbg,
    stride_dbn, stride_dbl,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    IS_VARLEN: tl.constexpr, REVERSE: tl.constexpr, HAS_DH0: tl.constexpr, ACCUM: tl.constexpr,
    STORE_Y: tl.constexpr,
    BLOCK_D: tl.constexpr, DI: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
    CKPT_TILES: tl.constexpr, PF: tl.constexpr, EVEN: tl.constexpr = False,
):
    """Backward pass 3: adjoint scan per chunk; writes (ACCUM: adds into) du and dz.

    A d-block's BLOCK_D channels are held as `[DI, DO]` (DO = BLOCK_D / DI): DI of them per lane."""
    DO: tl.constexpr = BLOCK_D // DI
    pid_d, pid_c, pid_b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    d2 = pid_d * BLOCK_D + tl.arange(0, DI)[:, None] * DO + tl.arange(0, DO)[None, :]
    offs_n = tl.arange(0, BLOCK_N)
    offs_l = tl.arange(0, BLOCK_L)
    mask_d, mask_n = d2 < D, offs_n < N
    mdn = mask_d[:, None, :] & mask_n[None, :, None]
    grp = (pid_d * BLOCK_D) // dpg
    pnd = offs_n[None, :, None] * D + d2[:, None, :]  # states are [N, D]
    Af = tl.load(A_ptr + pnd, mask=mdn, other=0.0).to(tl.float32)
    A2 = Af * LOG2E
    Dv = tl.zeros([DI, DO], tl.float32)
    bias = tl.zeros([DI, DO], tl.float32)
    if HAS_D:
        Dv = tl.load(D_ptr + d2, mask=mask_d, other=0.0).to(tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + d2, mask=mask_d, other=0.0).to(tl.float32)
    c_start = pid_c * chunk_len
    n_tiles = tl.cdiv(tl.minimum(c_start + chunk_len, L) - c_start, BLOCK_L)
    E = tl.load(E_ptr + ((pid_b * n_chunks + pid_c) * D) * N + pnd, mask=mdn, other=0.0)
    ub = pid_b * stride_ub
    bb = pid_b * stride_bb + grp * stride_bg
    dbb = pid_b * stride_dbb + grp * stride_dbg
    E, dA_acc, dD_acc, db_acc = _bwd_sweep(
        E, u_ptr + ub, dl_ptr + ub, z_ptr + pid_b * stride_zb, dout_ptr + ub, du_ptr + ub, ddl_ptr + ub,
        dz_ptr + pid_b * stride_dzb, yo_ptr + ub, B_ptr + bb, C_ptr + bb, dB_ptr + dbb, dC_ptr + dbb, seq_ptr + pid_b * L,
        ck_ptr + pid_b * n_ck * D * N,
        sc_ptr + ((pid_b * n_chunks + pid_c) * tl.num_programs(0) + pid_d) * (CKPT_TILES * BLOCK_N * BLOCK_D),
        A2, Af, Dv, bias, d2, mask_d, offs_n, mask_n, offs_l, c_start, n_tiles, L, stride_ud, stride_ul, stride_zd,
        stride_zl, stride_dzd, stride_dzl, stride_bn, stride_bl, stride_dbn, stride_dbl, D * N, D,
        HAS_D, HAS_Z, HAS_BIAS, SOFTPLUS, IS_VARLEN, REVERSE, ACCUM, STORE_Y, DI, DO, BLOCK_N, BLOCK_L, CKPT_TILES,
        PF, EVEN)
    tl.atomic_add(dA_ptr + pnd, dA_acc, mask=mdn)
    if HAS_D:
        tl.atomic_add(dD_ptr + d2, dD_acc, mask=mask_d)
    if HAS_BIAS:
        tl.atomic_add(dbias_ptr + d2, db_acc, mask=mask_d)
    if HAS_DH0:
        if pid_c == (n_chunks - 1 if REVERSE else 0):
            tl.store(dh0_ptr + pid_b * D * N + pnd, E, mask=mdn)


# ----------------------------------------------------------------------------------------------
# launch helpers


def _empty_as(ref: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """An output in ref's layout (NaN-poisoned under GENOMAMBA_KERNELS_DEBUG=1, as `_empty`)."""
    out = torch.empty_like(ref, dtype=dtype)
    return out.fill_(float("nan")) if _debug() else out


def _zeros_bc(B4: torch.Tensor) -> torch.Tensor:
    """fp32 accumulator `[B, G, N, L]` for dB or dC, L-contiguous or (when B4 is) channel-last."""
    if B4.stride(-1) == 1:
        return torch.zeros(B4.shape, dtype=torch.float32, device=B4.device)
    Bsz, G, N, L = B4.shape
    return torch.zeros(Bsz, L, G, N, dtype=torch.float32, device=B4.device).permute(0, 2, 3, 1)


def _zstrides(z: torch.Tensor | None) -> tuple[int, int, int]:
    return (0, 0, 0) if z is None else z.stride()


def _chunk_start_states(u, delta, A, B4, bias, seq, init, plan, softplus, reverse):
    """Passes 1-2: each chunk's start state `[B, nc, N, D]` fp32 (A, init prepared by `_prep`)."""
    Bsz, Dm, L = u.shape
    N = A.shape[0]
    nc, k = plan.n_chunks, plan.pass1_split
    if nc == 1:
        hs = torch.zeros(Bsz, 1, N, Dm, device=u.device, dtype=torch.float32)
        if init is not None:
            hs[:, 0] = init
        return hs
    S = _empty(Bsz, nc * k, N, Dm, dtype=torch.float32, device=u.device)  # per part of a chunk (k a chunk)
    P = _empty(Bsz, nc * k, N, Dm, dtype=torch.float32, device=u.device)
    dummy = u
    # the last chunk in scan order (the first in memory when reversed) starts no other chunk: its end
    # state is not needed (the final state comes from pass 3), so pass 1 skips its parts; the combine reads
    # their S and P only into states it never returns
    _selective_scan_chunk_state_kernel[(plan.f.n_dblk, (nc - 1) * k, Bsz)](
        u, delta, A, B4, bias if bias is not None else dummy, seq if seq is not None else dummy,
        dummy, dummy, dummy, dummy, S, P, dummy, dummy,
        L, Dm, N, plan.f.dpg, plan.chunk_len // k, nc * k, nc * k, 1, k if reverse else 0, *u.stride(), 0, 0, 0,
        *B4.stride(), 0,
        HAS_Z=False, HAS_BIAS=bias is not None, SOFTPLUS=softplus, IS_VARLEN=seq is not None, REVERSE=reverse,
        BWD=False, BLOCK_D=plan.f.BLOCK_D, BLOCK_N=plan.f.BLOCK_N, BLOCK_L=plan.f.BLOCK_L, CKPT_TILES=1,
        PF=_pf(plan, u), EVEN=plan.f.even(Dm, N), num_warps=plan.f.num_warps, **_reg_cap("FWD", u))
    _combine(S, P, init, S, reverse)
    if k > 1:  # the state entering each chunk is the one entering its first part in scan order
        S = S[:, k - 1 if reverse else 0::k].contiguous()
    return S


def _combine(S, P, init, out, reverse):
    Bsz, nc, N, Dm = S.shape
    BLOCK = min(256, triton.next_power_of_2(Dm * N))
    _chunk_combine_kernel[(triton.cdiv(Dm * N, BLOCK), Bsz)](
        S, P, init if init is not None else S, out, Dm * N, nc,
        HAS_INIT=init is not None, REVERSE=reverse, BLOCK=BLOCK, UNROLL=8, num_warps=2)


# The kernels form a program's base offsets (batch, chunk, checkpoint) and the backward's in-tile offsets in 32 bits
_I32_LIMIT = 2**31


def _max_offset(x: torch.Tensor | tuple[int, ...]) -> int:
    """The largest element offset from x's first element that a kernel indexes (sizes and strides, not numel);
    a shape stands for a contiguous tensor the call will allocate."""
    if isinstance(x, tuple):
        return math.prod(x) - 1
    return sum((n - 1) * abs(st) for n, st in zip(x.shape, x.stride()) if n > 0)


def _check_offsets(**tensors: torch.Tensor | tuple[int, ...] | None) -> None:
    """Refuse, in one line, a call whose tensors (or shapes to allocate) the kernels' 32-bit offsets would wrap
    around (silently wrong outputs or an illegal address), naming the first such tensor."""
    for name, x in tensors.items():
        if x is not None and _max_offset(x) >= _I32_LIMIT:
            shape = x if isinstance(x, tuple) else tuple(x.shape)
            raise ValueError(f"selective scan: {name} {shape} spans {_max_offset(x) + 1:,} elements, past "
                             f"the kernels' 32-bit offsets ({_I32_LIMIT:,}); scan it in shorter pieces (a smaller "
                             f"batch or shorter chunks: inference_chunk_tokens, chunked training)")


def _selective_scan_fwd(u, delta, A, B4, C4, D, z, delta_bias, delta_softplus, init, seq, reverse,
                        return_final_state, plan: _Plan, y_acc: torch.Tensor | None = None):
    """Runs passes 1-3. Returns y `[B, D, L]` (u's dtype; added into y_acc when given), the final
    state or None, and the chunk-start states `[B, nc, N, D]` the backward rescans from."""
    Bsz, Dm, L = u.shape
    N = A.shape[0]
    _check_offsets(u=u, delta=delta, z=z, B=B4, C=C4, y=y_acc)
    hs = _chunk_start_states(u, delta, A, B4, delta_bias, seq, init, plan, delta_softplus, reverse)
    y = _empty_as(u, u.dtype) if y_acc is None else y_acc
    final = _empty(Bsz, N, Dm, dtype=torch.float32, device=u.device) if return_final_state else None
    dummy = u
    _selective_scan_fwd_kernel[(plan.f.n_dblk, plan.n_chunks, Bsz)](
        u, delta, A, B4, C4, D if D is not None else dummy, z if z is not None else dummy,
        delta_bias if delta_bias is not None else dummy, seq if seq is not None else dummy, hs, y,
        final if final is not None else dummy,
        L, Dm, N, plan.f.dpg, plan.chunk_len, plan.n_chunks, *u.stride(), *_zstrides(z), *B4.stride(),
        HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=delta_softplus,
        IS_VARLEN=seq is not None, REVERSE=reverse, HAS_FINAL=final is not None, ACCUM=y_acc is not None,
        BLOCK_D=plan.f.BLOCK_D, BLOCK_N=plan.f.BLOCK_N, BLOCK_L=plan.f.BLOCK_L, PF=_pf(plan, u),
        EVEN=plan.f.even(Dm, N), num_warps=plan.f.num_warps, **_reg_cap("FWD", u))
    return y, None if final is None else _from_nd(final), hs


def _bwd_adjoint_in(u, delta, A, B4, C4, z, delta_bias, seq, hs, dout, dfinal, delta_softplus, reverse,
                    plan: _Plan):
    """Backward passes 1-2: state checkpoints `[B, n_ck, N, D]` and the adjoint entering each
    chunk from the end of its scan `[B, nc, N, D]`."""
    Bsz, Dm, L = u.shape
    N = A.shape[0]
    nc = plan.n_chunks_b
    ck = _empty(Bsz, plan.b.n_ck, N, Dm, dtype=torch.float32, device=u.device)
    P = _empty(Bsz, nc, N, Dm, dtype=torch.float32, device=u.device)
    G = _empty(Bsz, nc, N, Dm, dtype=torch.float32, device=u.device)
    dummy = u
    k = plan.k
    _selective_scan_chunk_state_kernel[(k.n_dblk, nc, Bsz)](
        u, delta, A, B4, delta_bias if delta_bias is not None else dummy, seq if seq is not None else dummy,
        dout, z if z is not None else dummy, C4, hs, dummy, P, G, ck,
        L, Dm, N, k.dpg, plan.chunk_len_b, nc, plan.n_chunks, plan.bwd_mult, 0, *u.stride(), *_zstrides(z),
        *B4.stride(), k.n_ck,
        HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=delta_softplus, IS_VARLEN=seq is not None,
        REVERSE=reverse, BWD=True, BLOCK_D=k.BLOCK_D, BLOCK_N=k.BLOCK_N, BLOCK_L=k.BLOCK_L,
        CKPT_TILES=k.CKPT_TILES, PF=_pf(plan, u), EVEN=k.even(Dm, N), num_warps=k.num_warps,
        **_reg_cap("CKPT_PASS", u))
    _combine(G, P, dfinal, G, not reverse)  # G now holds the adjoint entering each chunk
    return ck, G


def _scratch(u: torch.Tensor, plan: _Plan) -> torch.Tensor:
    """Per-program scratch of the backward: CKPT_TILES fp32 states of one d-block each."""
    c = plan.b
    if c.CKPT_TILES == 1:
        return u
    n = u.shape[0] * plan.n_chunks_b * c.n_dblk * c.CKPT_TILES * c.BLOCK_N * c.BLOCK_D
    return torch.empty(n, dtype=torch.float32, device=u.device)


def _selective_scan_bwd(u, delta, A, B4, C4, D, z, delta_bias, delta_softplus, seq, hs, dout, dfinal, reverse,
                        need_dh0, plan: _Plan, du_acc: torch.Tensor | None = None,
                        dz_acc: torch.Tensor | None = None, dz_out: torch.Tensor | None = None,
                        y_out: torch.Tensor | None = None):
    """Gradients of `_selective_scan_fwd`: (du, ddelta, dA, dB4, dC4, dD, dz, ddelta_bias, dh0);
    dB4/dC4 are fp32 `[B, G, N, L]`, dA/dD/ddelta_bias fp32. With du_acc (and dz_acc when z is
    given) du and dz are added into those tensors; dz_out, any strides, receives dz (e.g. a slice of
    a fused dxz); y_out, u's layout, receives the gated output y recomputed on the way (needs z)."""
    Bsz, Dm, L = u.shape
    N = A.shape[0]
    dout = _match(dout, u)
    # and the backward's checkpoints, `[B, n_ck, N, D]` fp32 (allocated by `_bwd_adjoint_in`)
    _check_offsets(u=u, delta=delta, z=z, B=B4, C=C4, dout=dout, du_acc=du_acc, dz_acc=dz_acc, dz_out=dz_out,
                   y_out=y_out, checkpoints=(Bsz, plan.b.n_ck, N, Dm))
    dfinal = None if dfinal is None else _to_nd(dfinal.float())
    ck, E = _bwd_adjoint_in(u, delta, A, B4, C4, z, delta_bias, seq, hs, dout, dfinal, delta_softplus, reverse,
                            plan)
    accum = du_acc is not None
    du = _empty_as(u, u.dtype) if not accum else du_acc
    ddelta = _empty_as(u, delta.dtype)
    dz = None
    if z is not None:
        dz = dz_acc if accum else dz_out if dz_out is not None else _empty_as(u, z.dtype)
    if y_out is not None and (z is None or y_out.stride() != u.stride()):
        raise ValueError("y_out needs the gate z and u's layout")
    dA = torch.zeros(N, Dm, dtype=torch.float32, device=u.device)
    dB, dC = _zeros_bc(B4), _zeros_bc(C4)
    dD = torch.zeros(Dm, dtype=torch.float32, device=u.device) if D is not None else None
    dbias = torch.zeros(Dm, dtype=torch.float32, device=u.device) if delta_bias is not None else None
    dh0 = _empty(Bsz, N, Dm, dtype=torch.float32, device=u.device) if need_dh0 else None
    dummy = u
    _selective_scan_bwd_kernel[(plan.b.n_dblk, plan.n_chunks_b, Bsz)](
        u, delta, A, B4, C4, D if D is not None else dummy, z if z is not None else dummy,
        delta_bias if delta_bias is not None else dummy, seq if seq is not None else dummy, dout, ck,
        _scratch(u, plan), E,
        du, ddelta, dz if dz is not None else dummy, y_out if y_out is not None else dummy, dA, dB, dC,
        dD if dD is not None else dA,
        dbias if dbias is not None else dA, dh0 if dh0 is not None else dA,
        L, Dm, N, plan.b.dpg, plan.chunk_len_b, plan.n_chunks_b, plan.b.n_ck, *u.stride(), *_zstrides(z),
        *_zstrides(dz), *B4.stride(), *dB.stride(),
        HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=delta_softplus,
        IS_VARLEN=seq is not None, REVERSE=reverse, HAS_DH0=need_dh0, ACCUM=accum, STORE_Y=y_out is not None,
        BLOCK_D=plan.b.BLOCK_D, DI=plan.b.DI, BLOCK_N=plan.b.BLOCK_N, BLOCK_L=plan.b.BLOCK_L,
        CKPT_TILES=plan.b.CKPT_TILES,
        PF=_pf(plan, u), EVEN=plan.b.even(Dm, N), num_warps=plan.b.num_warps, **_reg_cap("BWD", u))
    return du, ddelta, _from_nd(dA), dB, dC, dD, dz, dbias, None if dh0 is None else _from_nd(dh0)


class ScanDirection:
    """One direction of a fused scan, its inputs prepared once: the public per-direction entry that
    composite ops (the bidirectional scan) build on. `forward` runs passes 1-3 (adding into y_acc when
    given) and returns y and the chunk-start states; `backward` takes those states and dy and returns
    (du, ddelta, dA, dB4, dC4, dD, dz, ddelta_bias) as `_selective_scan_bwd` does."""

    def __init__(self, u, delta, A, B, C, D=None, delta_bias=None, z=None, seq_idx=None, delta_softplus=True,
                 reverse=False, chunk_size=None, plan: _Plan | None = None):
        (self.u, self.delta, self.A, self.B4, self.C4, self.D, self.z, self.bias, _,
         self.seq, self.restaged) = _prep(u, delta, A, B, C, D, z, delta_bias, None, seq_idx)
        Bsz, Dm, L = u.shape
        self.plan = plan or _Plan(Bsz, Dm, A.shape[1], L, self.B4.shape[1], u.device, chunk_size)
        self.softplus, self.reverse = delta_softplus, reverse

    def match(self, dy: torch.Tensor) -> torch.Tensor:
        """dy in the layout of u here (the backward reads them with one set of strides)."""
        return _match(dy, self.u)

    def to_caller(self, x: torch.Tensor | None) -> torch.Tensor | None:
        """y, du, ddelta or dz (u's layout here) in the layout the caller's u had."""
        return _to_caller(x, self.restaged)

    def forward(self, y_acc: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        y, _, hs = _selective_scan_fwd(self.u, self.delta, self.A, self.B4, self.C4, self.D, self.z, self.bias,
                                       self.softplus, None, self.seq, self.reverse, False, self.plan, y_acc=y_acc)
        return y, hs

    def backward(self, hs, dy, du_acc: torch.Tensor | None = None, dz_acc: torch.Tensor | None = None):
        du, ddl, dA, dB, dC, dD, dz, dbias, _ = _selective_scan_bwd(
            self.u, self.delta, self.A, self.B4, self.C4, self.D, self.z, self.bias, self.softplus, self.seq, hs, dy,
            None, self.reverse, False, self.plan, du_acc=du_acc, dz_acc=dz_acc)
        return du, ddl, dA, dB, dC, dD, dz, dbias


class SelectiveScanFn(torch.autograd.Function):
    """Autograd for the fused scan; grads flow to every tensor input and from the final state."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, return_final_state,
                reverse, seq_idx, chunk_size):
        u_, delta_, A_, B4, C4, D_, z_, bias_, init, seq, restaged = _prep(u, delta, A, B, C, D, z, delta_bias,
                                                                           initial_state, seq_idx)
        Bsz, Dm, L = u.shape
        plan = _Plan(Bsz, Dm, A.shape[1], L, B4.shape[1], u.device, chunk_size)
        y, final, hs = _selective_scan_fwd(u_, delta_, A_, B4, C4, D_, z_, bias_, delta_softplus, init, seq, reverse,
                                           return_final_state, plan)
        ctx.save_for_backward(u_, delta_, A_, B4, C4, D_, z_, bias_, seq, hs)
        ctx.plan, ctx.softplus, ctx.reverse, ctx.restaged = plan, delta_softplus, reverse, restaged
        y = _to_caller(y, restaged)
        ctx.b_dim, ctx.c_dim, ctx.has_init = B.dim(), C.dim(), initial_state is not None
        ctx.dtypes = (B.dtype, C.dtype, A.dtype, None if D is None else D.dtype,
                      None if delta_bias is None else delta_bias.dtype,
                      None if initial_state is None else initial_state.dtype)
        if return_final_state:
            return y, final
        return y

    @staticmethod
    def backward(ctx, dy, dfinal=None):
        u, delta, A, B4, C4, D, z, bias, seq, hs = ctx.saved_tensors
        du, ddelta, dA, dB, dC, dD, dz, dbias, dh0 = _selective_scan_bwd(
            u, delta, A, B4, C4, D, z, bias, ctx.softplus, seq, hs, dy, dfinal, ctx.reverse,
            ctx.has_init and ctx.needs_input_grad[9], ctx.plan)
        b_dt, c_dt, a_dt, d_dt, bias_dt, h_dt = ctx.dtypes
        r = ctx.restaged
        du, ddelta, dz = _to_caller(du, r), _to_caller(ddelta, r), _to_caller(dz, r)
        dB, dC = _bc_grad(dB, b_dt, ctx.b_dim, r), _bc_grad(dC, c_dt, ctx.c_dim, r)
        return (du, ddelta, dA.to(a_dt), dB, dC, None if dD is None else dD.to(d_dt), dz,
                None if dbias is None else dbias.to(bias_dt), None, None if dh0 is None else dh0.to(h_dt),
                None, None, None, None)


def selective_scan_triton(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: torch.Tensor | None = None,
    return_final_state: bool = False,
    reverse: bool = False,
    seq_idx: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Fused selective scan; same semantics as `genomamba.ops.selective_scan_ref`.

    h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t;  y_t = C_t h_t + D u_t;  y *= silu(z).

    Args:
        u, delta: `[B, D, L]` (fp32, fp16 or bf16); channel-last views (`[B, L, D]` transposed, the
            mixer's layout) are fastest on CUDA, L-contiguous inputs are scanned in place.
        A: `[D, N]`. B, C: `[B, N, L]` or grouped `[B, G, N, L]`.
        D, delta_bias: `[D]`. z: `[B, D, L]` gate.
        delta_softplus: apply softplus to delta + delta_bias.
        initial_state: `[B, D, N]`, the state before the first step scanned.
        return_final_state: also return the fp32 state after the last step scanned.
        reverse: scan right to left, no flips or copies.
        seq_idx: `[B, L]` int, packed sequences; the state resets to zero where it changes.
        chunk_size: length of the chunks scanned in parallel (rounded up to the tile); None
            picks enough chunks to fill the GPU. A tuning and testing knob.

    Returns:
        y `[B, D, L]` in u's dtype; with return_final_state also the final state `[B, D, N]` fp32.
        Gradients reach every tensor input, also through the final state.
    """
    return SelectiveScanFn.apply(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state,
                                 return_final_state, reverse, seq_idx, chunk_size)
