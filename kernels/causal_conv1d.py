"""Fused causal depthwise conv1d + SiLU over channel-last activations, in Triton.

out[b, t, d] = act(bias[d] + sum_k w[d, k] x[b, t - (K-1) + k, d]), where the K-1 inputs before
t = 0 come from a carried conv state (zeros when none): no torch.cat of the prefix, no transposes,
loads coalesced along D. The backward recomputes the pre-activation (nothing but x is saved) and
writes dx, the carried state's gradient, dw and dbias in one launch. Design after
causal-conv1d's channel-last kernels and flash-linear-attention's `fla/modules/conv`.
Imports torch and triton only.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl
from genomamba_kernels.common import _empty, _num_sms


@triton.jit
def _x_ext(x_b, st_b, p, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd, K: tl.constexpr,
           HAS_STATE: tl.constexpr):
    # x at positions p `[BL]` of a tile, with p < 0 read from the carried state (zeros without one)
    m_in = (p >= 0) & (p < L)
    v = tl.load(x_b + p[:, None] * stride_xl + offs_d[None, :] * stride_xd, mask=m_in[:, None] & mask_d[None, :],
                other=0.0).to(tl.float32)
    if HAS_STATE:
        m_st = (p < 0) & (p >= -(K - 1))
        v += tl.load(st_b + offs_d[None, :] * stride_sd + (K - 1 + p)[:, None], mask=m_st[:, None] & mask_d[None, :],
                     other=0.0).to(tl.float32)
    return v


@triton.jit
def _x_tap(x_b, st_b, seq_b, p, sq, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd, K: tl.constexpr,
           HAS_STATE: tl.constexpr, HAS_SEQ: tl.constexpr):
    # `_x_ext` as seen from outputs whose seq_idx is sq `[BL]`: zero where p lies in another sequence
    # (p < 0, the carried state, counts as position 0's sequence)
    v = _x_ext(x_b, st_b, p, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd, K, HAS_STATE)
    if HAS_SEQ:
        sp = tl.load(seq_b + tl.maximum(p, 0), mask=p < L, other=-2)
        v = tl.where((sp == sq)[:, None], v, 0.0)
    return v


@triton.jit
def _seq_at(seq_b, q, L, HAS_SEQ: tl.constexpr):
    # seq_idx at positions q (-1 outside [0, L); a dummy zero without seq_idx)
    if HAS_SEQ:
        return tl.load(seq_b + q, mask=(q >= 0) & (q < L), other=-1)
    return q * 0


@triton.jit
def _pre_act(x_b, st_b, seq_b, w_ptr, bias, q, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd,
             K: tl.constexpr, HAS_STATE: tl.constexpr, HAS_SEQ: tl.constexpr, BLOCK_L: tl.constexpr,
             BLOCK_D: tl.constexpr):
    acc = tl.zeros([BLOCK_L, BLOCK_D], tl.float32) + bias[None, :]
    sq = _seq_at(seq_b, q, L, HAS_SEQ)
    for k in tl.static_range(K):
        wk = tl.load(w_ptr + offs_d * K + k, mask=mask_d, other=0.0).to(tl.float32)
        acc += wk[None, :] * _x_tap(x_b, st_b, seq_b, q - (K - 1) + k, sq, offs_d, mask_d, L, stride_xl, stride_xd,
                                    stride_sd, K, HAS_STATE, HAS_SEQ)
    return acc


@triton.jit
def _causal_conv1d_fwd_kernel(x_ptr, w_ptr, bias_ptr, st_ptr, seq_ptr, out_ptr, L, D, stride_xb, stride_xl,
                              stride_xd, stride_sb, stride_sd, K: tl.constexpr, HAS_BIAS: tl.constexpr,
                              HAS_STATE: tl.constexpr, HAS_SEQ: tl.constexpr, SILU: tl.constexpr,
                              BLOCK_L: tl.constexpr, BLOCK_D: tl.constexpr):
    pid_l, pid_d, pid_b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    t = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < D
    bias = tl.zeros([BLOCK_D], tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    acc = _pre_act(x_ptr + pid_b * stride_xb, st_ptr + pid_b * stride_sb, seq_ptr + pid_b * L, w_ptr, bias, t,
                   offs_d, mask_d, L, stride_xl, stride_xd, stride_sd, K, HAS_STATE, HAS_SEQ, BLOCK_L, BLOCK_D)
    if SILU:
        acc = acc / (1.0 + tl.exp(-acc))
    m = (t < L)[:, None] & mask_d[None, :]
    tl.store(out_ptr + pid_b * L * D + t[:, None] * D + offs_d[None, :], acc.to(out_ptr.dtype.element_ty), mask=m)


@triton.jit
def _causal_conv1d_bwd_kernel(x_ptr, w_ptr, bias_ptr, st_ptr, seq_ptr, dout_ptr, dx_ptr, dst_ptr, dw_ptr,
                              dbias_ptr, L, D, stride_xb, stride_xl, stride_xd, stride_sb, stride_sd, stride_dxb,
                              stride_dxl, K: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_STATE: tl.constexpr,
                              HAS_SEQ: tl.constexpr, SILU: tl.constexpr, BLOCK_L: tl.constexpr,
                              BLOCK_D: tl.constexpr):
    """Tiles cover input positions s in [-(K-1), L): dx[s] = sum_k w[k] dpre[s + K-1-k] (s < 0 is the
    carried state's gradient; with seq_idx only outputs in s's sequence count); dw and dbias from dpre
    at the tile's own output positions."""
    pid_l, pid_d, pid_b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    s = pid_l * BLOCK_L + tl.arange(0, BLOCK_L) - (K - 1)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < D
    x_b, st_b, seq_b = x_ptr + pid_b * stride_xb, st_ptr + pid_b * stride_sb, seq_ptr + pid_b * L
    do_b = dout_ptr + pid_b * L * D
    ss = _seq_at(seq_b, tl.maximum(s, 0), L, HAS_SEQ)  # the state (s < 0) is position 0's sequence
    bias = tl.zeros([BLOCK_D], tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    dx = tl.zeros([BLOCK_L, BLOCK_D], tl.float32)
    for j in tl.static_range(K):
        q = s + j  # output positions that read input s through tap K-1-j
        mq = (q >= 0) & (q < L)
        m2 = mq[:, None] & mask_d[None, :]
        dp = tl.load(do_b + q[:, None] * D + offs_d[None, :], mask=m2, other=0.0).to(tl.float32)
        if SILU:
            pre = _pre_act(x_b, st_b, seq_b, w_ptr, bias, q, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd,
                           K, HAS_STATE, HAS_SEQ, BLOCK_L, BLOCK_D)
            sg = 1.0 / (1.0 + tl.exp(-pre))
            dp = dp * sg * (1.0 + pre * (1.0 - sg))
        dp = tl.where(m2, dp, 0.0)
        wj = tl.load(w_ptr + offs_d * K + (K - 1 - j), mask=mask_d, other=0.0).to(tl.float32)
        if HAS_SEQ:
            dx += wj[None, :] * tl.where((_seq_at(seq_b, q, L, HAS_SEQ) == ss)[:, None], dp, 0.0)
        else:
            dx += wj[None, :] * dp
        if j == K - 1:
            # q = s + K-1 visits each output position once over the grid: the weight and bias sums
            sq = _seq_at(seq_b, q, L, HAS_SEQ)
            for k in tl.static_range(K):
                xv = _x_tap(x_b, st_b, seq_b, q - (K - 1) + k, sq, offs_d, mask_d, L, stride_xl, stride_xd,
                            stride_sd, K, HAS_STATE, HAS_SEQ)
                tl.atomic_add(dw_ptr + offs_d * K + k, tl.sum(dp * xv, axis=0), mask=mask_d, sem="relaxed")
            if HAS_BIAS:
                tl.atomic_add(dbias_ptr + offs_d, tl.sum(dp, axis=0), mask=mask_d, sem="relaxed")
    m_x = ((s >= 0) & (s < L))[:, None] & mask_d[None, :]
    tl.store(dx_ptr + pid_b * stride_dxb + s[:, None] * stride_dxl + offs_d[None, :], dx.to(dx_ptr.dtype.element_ty),
             mask=m_x)
    if HAS_STATE:
        m_s = (s < 0)[:, None] & mask_d[None, :]
        tl.store(dst_ptr + pid_b * D * (K - 1) + offs_d[None, :] * (K - 1) + (K - 1 + s)[:, None],
                 dx.to(dst_ptr.dtype.element_ty), mask=m_s)


@triton.jit
def _w_tap(w_ptr, offs_d, mask_d, k: tl.constexpr, K: tl.constexpr):
    # tap k of the weights padded to 4 taps on the left (zeros for k < 4 - K)
    if k < 4 - K:
        return tl.zeros(offs_d.shape, tl.float32)
    return tl.load(w_ptr + offs_d * K + (k - 4 + K), mask=mask_d, other=0.0).to(tl.float32)


@triton.jit
def _row_mask(mask_d, ok):
    # mask_d where the scalar ok holds (a select: the interpreter mistypes `vector & scalar`)
    return tl.where(ok, mask_d, False)


@triton.jit
def _x_row(x_b, st_b, p, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd, K: tl.constexpr,
           HAS_STATE: tl.constexpr):
    # x at one position p `[BD]`, p < 0 from the carried state (zeros without one or before it)
    v = tl.load(x_b + p * stride_xl + offs_d * stride_xd, mask=_row_mask(mask_d, (p >= 0) & (p < L)), other=0.0).to(tl.float32)
    if HAS_STATE:
        v += tl.load(st_b + offs_d * stride_sd + (K - 1 + p), mask=_row_mask(mask_d, (p < 0) & (p >= 1 - K)),
                     other=0.0).to(tl.float32)
    return v


@triton.jit
def _seq_row(seq_b, p, L, HAS_SEQ: tl.constexpr):
    # seq_idx at position p clamped into [0, L) (the state is position 0's sequence); 0 without seq_idx
    if HAS_SEQ:
        q = tl.minimum(tl.maximum(p, 0), L - 1)
        return tl.load(seq_b + q, mask=q >= 0, other=0)
    return p * 0


@triton.jit
def _same(a, b, v, HAS_SEQ: tl.constexpr):
    # v where sequence ids a and b agree, else 0
    if HAS_SEQ:
        return tl.where(a == b, v, 0.0)
    return v


@triton.jit
def _dpre(xa3, xa2, xa1, xn, dout, w0, w1, w2, w3, bias, SILU: tl.constexpr):
    # the pre-activation's gradient at one position from its (sequence-masked) taps, oldest first
    if SILU:
        pre = bias + w0 * xa3 + w1 * xa2 + w2 * xa1 + w3 * xn
        sg = 1.0 / (1.0 + tl.exp(-pre))
        return dout * sg * (1.0 + pre * (1.0 - sg))
    return dout


@triton.jit
def _rows_prologue(w_ptr, bias_ptr, x_b, st_b, seq_b, pid_c, CH, BACK: tl.constexpr, offs_d, mask_d, L,
                   stride_xl, stride_xd, stride_sd, K: tl.constexpr, HAS_BIAS: tl.constexpr,
                   HAS_STATE: tl.constexpr, HAS_SEQ: tl.constexpr):
    """The rows kernels' shared prologue: taps padded to 4, the bias (zeros without one), the first step
    c0 = pid_c CH and the 3-row window of x and seq_idx at c0-BACK .. c0-BACK+2 (fwd BACK=3; bwd 6, before
    its 3-step warm-up). One copy so the kernels cannot drift apart; BACK is a constexpr and c0 is
    computed where the kernels had it, so they compile as before (same registers, no spills added)."""
    w0, w1 = _w_tap(w_ptr, offs_d, mask_d, 0, K), _w_tap(w_ptr, offs_d, mask_d, 1, K)
    w2, w3 = _w_tap(w_ptr, offs_d, mask_d, 2, K), _w_tap(w_ptr, offs_d, mask_d, 3, K)
    bias = tl.zeros(offs_d.shape, tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    c0 = pid_c * CH
    x3 = _x_row(x_b, st_b, c0 - BACK, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd, K, HAS_STATE)
    x2 = _x_row(x_b, st_b, c0 - (BACK - 1), offs_d, mask_d, L, stride_xl, stride_xd, stride_sd, K, HAS_STATE)
    x1 = _x_row(x_b, st_b, c0 - (BACK - 2), offs_d, mask_d, L, stride_xl, stride_xd, stride_sd, K, HAS_STATE)
    q3 = _seq_row(seq_b, c0 - BACK, L, HAS_SEQ)
    q2 = _seq_row(seq_b, c0 - (BACK - 1), L, HAS_SEQ)
    q1 = _seq_row(seq_b, c0 - (BACK - 2), L, HAS_SEQ)
    return c0, w0, w1, w2, w3, bias, x3, x2, x1, q3, q2, q1


@triton.jit
def _causal_conv1d_fwd_rows_kernel(x_ptr, w_ptr, bias_ptr, st_ptr, seq_ptr, out_ptr, L, D, CH, stride_xb,
                                   stride_xl, stride_xd, stride_sb, stride_sd, K: tl.constexpr,
                                   HAS_BIAS: tl.constexpr, HAS_STATE: tl.constexpr, HAS_SEQ: tl.constexpr,
                                   SILU: tl.constexpr, ROWS: tl.constexpr, BLOCK_D: tl.constexpr):
    """Program (c, d-block, b) walks positions [c CH, (c+1) CH) one row at a time, keeping the last 3
    inputs in registers (taps padded to 4 on the left): each x element is loaded once."""
    pid_c, pid_d, pid_b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < D
    x_b, st_b, seq_b = x_ptr + pid_b * stride_xb, st_ptr + pid_b * stride_sb, seq_ptr + pid_b * L
    out_b = out_ptr + pid_b * L * D
    c0, w0, w1, w2, w3, bias, x3, x2, x1, q3, q2, q1 = _rows_prologue(
        w_ptr, bias_ptr, x_b, st_b, seq_b, pid_c, CH, 3, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd,
        K, HAS_BIAS, HAS_STATE, HAS_SEQ)
    for it in range((tl.minimum(c0 + CH, L) - c0 + ROWS - 1) // ROWS):
        xs, qs = (), ()
        for r in tl.static_range(ROWS):  # every load of the trip before any store (which may alias, to ptxas)
            i = c0 + it * ROWS + r
            xs += (tl.load(x_b + i * stride_xl + offs_d * stride_xd, mask=_row_mask(mask_d, i < L), other=0.0),)
            qs += (_seq_row(seq_b, i, L, HAS_SEQ),)
        for r in tl.static_range(ROWS):
            i = c0 + it * ROWS + r
            xn, qn = xs[r].to(tl.float32), qs[r]
            acc = (bias + w0 * _same(q3, qn, x3, HAS_SEQ) + w1 * _same(q2, qn, x2, HAS_SEQ)
                   + w2 * _same(q1, qn, x1, HAS_SEQ) + w3 * xn)
            if SILU:
                acc = acc / (1.0 + tl.exp(-acc))
            tl.store(out_b + i * D + offs_d, acc.to(out_ptr.dtype.element_ty), mask=_row_mask(mask_d, i < L))
            x3, x2, x1, q3, q2, q1 = x2, x1, xn, q2, q1, qn


@triton.jit
def _causal_conv1d_bwd_rows_kernel(x_ptr, w_ptr, bias_ptr, st_ptr, seq_ptr, dout_ptr, dx_ptr, dst_ptr, dw_ptr,
                                   dbias_ptr, L, D, CH, stride_xb, stride_xl, stride_xd, stride_sb, stride_sd,
                                   stride_dxb, stride_dxl, K: tl.constexpr, HAS_BIAS: tl.constexpr,
                                   HAS_STATE: tl.constexpr, HAS_SEQ: tl.constexpr, SILU: tl.constexpr,
                                   ROWS: tl.constexpr, BLOCK_D: tl.constexpr):
    """Program (c, d-block, b) walks steps i in [c CH, (c+1) CH) of [0, L+3), a channel per lane and taps
    padded to 4 on the left. Step i loads x[i] and dout[i] once, computes dpre[i] once (adding it to
    dw/dbias) and emits dx[i-3] = sum_j w[3-j] dpre[i-3+j] (i-3 < 0: the state's gradient) from the last
    3 inputs and dpre values, kept in registers. A 3-step warm-up before c CH fills that window; dw and
    dbias are summed in registers and added once a program."""
    pid_c, pid_d, pid_b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < D
    x_b, st_b, seq_b = x_ptr + pid_b * stride_xb, st_ptr + pid_b * stride_sb, seq_ptr + pid_b * L
    do_b, dx_b, dst_b = dout_ptr + pid_b * L * D, dx_ptr + pid_b * stride_dxb, dst_ptr + pid_b * D * (K - 1)
    c0, w0, w1, w2, w3, bias, x3, x2, x1, q3, q2, q1 = _rows_prologue(
        w_ptr, bias_ptr, x_b, st_b, seq_b, pid_c, CH, 6, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd,
        K, HAS_BIAS, HAS_STATE, HAS_SEQ)
    d2 = tl.zeros([BLOCK_D], tl.float32)
    d1 = tl.zeros([BLOCK_D], tl.float32)
    for r in tl.static_range(3):  # the warm-up: dpre at c0-3 .. c0-1, no outputs
        i = c0 - 3 + r
        xn = _x_row(x_b, st_b, i, offs_d, mask_d, L, stride_xl, stride_xd, stride_sd, K, HAS_STATE)
        qn = _seq_row(seq_b, i, L, HAS_SEQ)
        don = tl.load(do_b + i * D + offs_d, mask=_row_mask(mask_d, (i >= 0) & (i < L)), other=0.0).to(tl.float32)
        dp = _dpre(_same(q3, qn, x3, HAS_SEQ), _same(q2, qn, x2, HAS_SEQ), _same(q1, qn, x1, HAS_SEQ), xn, don,
                   w0, w1, w2, w3, bias, SILU)
        x3, x2, x1, q3, q2, q1, d3, d2, d1 = x2, x1, xn, q2, q1, qn, d2, d1, dp
    dw0 = tl.zeros([BLOCK_D], tl.float32)
    dw1 = tl.zeros([BLOCK_D], tl.float32)
    dw2 = tl.zeros([BLOCK_D], tl.float32)
    dw3 = tl.zeros([BLOCK_D], tl.float32)
    db = tl.zeros([BLOCK_D], tl.float32)
    for it in range((tl.minimum(c0 + CH, L + 3) - c0 + ROWS - 1) // ROWS):
        xs, dos, qs = (), (), ()
        for r in tl.static_range(ROWS):  # every load of the trip before any store (which may alias, to ptxas)
            i = c0 + it * ROWS + r
            m = _row_mask(mask_d, i < L)
            xs += (tl.load(x_b + i * stride_xl + offs_d * stride_xd, mask=m, other=0.0),)
            dos += (tl.load(do_b + i * D + offs_d, mask=m, other=0.0),)
            qs += (_seq_row(seq_b, i, L, HAS_SEQ),)
        for r in tl.static_range(ROWS):
            s = c0 + it * ROWS + r - 3
            xn, qn = xs[r].to(tl.float32), qs[r]
            xa3, xa2, xa1 = _same(q3, qn, x3, HAS_SEQ), _same(q2, qn, x2, HAS_SEQ), _same(q1, qn, x1, HAS_SEQ)
            dp = _dpre(xa3, xa2, xa1, xn, dos[r].to(tl.float32), w0, w1, w2, w3, bias, SILU)
            dw0 += dp * xa3
            dw1 += dp * xa2
            dw2 += dp * xa1
            dw3 += dp * xn
            db += dp
            dx = (w3 * d3 + _same(q2, q3, w2 * d2, HAS_SEQ) + _same(q1, q3, w1 * d1, HAS_SEQ)
                  + _same(qn, q3, w0 * dp, HAS_SEQ))
            tl.store(dx_b + s * stride_dxl + offs_d, dx.to(dx_ptr.dtype.element_ty),
                     mask=_row_mask(mask_d, (s >= 0) & (s < L)))
            if HAS_STATE:
                tl.store(dst_b + offs_d * (K - 1) + (K - 1 + s), dx.to(dst_ptr.dtype.element_ty),
                         mask=_row_mask(mask_d, (s < 0) & (s >= 1 - K)))
            x3, x2, x1, q3, q2, q1, d3, d2, d1 = x2, x1, xn, q2, q1, qn, d2, d1, dp
    tl.atomic_add(dw_ptr + offs_d * K + (K - 1), dw3, mask=mask_d, sem="relaxed")
    if K >= 2:
        tl.atomic_add(dw_ptr + offs_d * K + (K - 2), dw2, mask=mask_d, sem="relaxed")
    if K >= 3:
        tl.atomic_add(dw_ptr + offs_d * K + (K - 3), dw1, mask=mask_d, sem="relaxed")
    if K >= 4:
        tl.atomic_add(dw_ptr + offs_d * K, dw0, mask=mask_d, sem="relaxed")
    if HAS_BIAS:
        tl.atomic_add(dbias_ptr + offs_d, db, mask=mask_d, sem="relaxed")


def _blocks(x: torch.Tensor) -> tuple[int, int, int]:
    if x.device.type != "cuda":
        return 16, 8, 1  # the interpreter: small tiles
    return 64, 64, 4


# the rows kernels by default (bench_conv.py on an H200, BENCHMARKS.md 7f): bwd 0.16 vs 1.02 ms, fwd 0.083 vs 0.110 ms;
# their full-size GPU test against the tile kernels passed on an H100 (7g)
_KERNEL_DEFAULT = {"GENOMAMBA_CONV_FWD": "new", "GENOMAMBA_CONV_BWD": "new"}
# the rows kernels on CUDA: (BLOCK_D, ROWS = steps unrolled a loop trip, num_warps) and chunks sized for
# _ROWS_PROGS_PER_SM programs a SM (tiles from benchmarks/kernels/bench_conv.py --tiles on an H200)
_ROWS_TILE = {"fwd": (512, 4, 4), "bwd": (256, 4, 2)}
_ROWS_PROGS_PER_SM = 8


def _rows_kernel(var: str, K: int) -> bool:
    """Whether env var `var` ("old" or "new", read at each call for A/B runs) selects the rows kernels,
    which take K <= 4 (wider convs keep the tile kernels)."""
    choice = os.environ.get(var, _KERNEL_DEFAULT[var])
    if choice not in ("old", "new"):
        raise ValueError(f"{var} must be 'old' or 'new', got {choice!r}")
    return choice == "new" and K <= 4


def _rows_cfg(x: torch.Tensor, steps: int, which: str) -> tuple[int, int, int, int]:
    """(BLOCK_D, ROWS, CH, num_warps) of a rows launch ("fwd" or "bwd") over `steps` positions a row:
    chunks of CH steps (a multiple of ROWS), few enough that a program amortises its warm-up and atomics."""
    Bsz, _, D = x.shape
    if x.device.type != "cuda":
        return 8, 4, 8, 1  # the interpreter: small blocks, several chunks a row
    bd, rows, nw = _ROWS_TILE[which]
    progs = _ROWS_PROGS_PER_SM * _num_sms(x.device)
    ch = triton.cdiv(Bsz * triton.cdiv(D, bd) * steps, progs * rows) * rows
    return bd, rows, max(ch, 4 * rows), nw


def _flags(K, bias, state, seq, silu) -> dict:
    return {"K": K, "HAS_BIAS": bias is not None, "HAS_STATE": state is not None, "HAS_SEQ": seq is not None,
            "SILU": silu}


def _causal_conv1d_fwd(x, weight, bias, state, silu, seq=None):
    """out `[B, L, D]`; seq: None or a contiguous int32 `[B, L]` seq_idx."""
    Bsz, L, D = x.shape
    K = weight.shape[1]
    out = _empty(Bsz, L, D, dtype=x.dtype, device=x.device)
    args = (x, weight, bias if bias is not None else weight, state if state is not None else weight,
            seq if seq is not None else weight, out, L, D)
    strides = (x.stride(0), x.stride(1), x.stride(2), state.stride(0) if state is not None else 0,
               state.stride(1) if state is not None else 0)
    flags = _flags(K, bias, state, seq, silu)
    if _rows_kernel("GENOMAMBA_CONV_FWD", K):
        bd, rows, ch, nw = _rows_cfg(x, L, "fwd")
        _causal_conv1d_fwd_rows_kernel[(triton.cdiv(L, ch), triton.cdiv(D, bd), Bsz)](
            *args, ch, *strides, **flags, ROWS=rows, BLOCK_D=bd, num_warps=nw)
        return out
    BL, BD, nw = _blocks(x)
    _causal_conv1d_fwd_kernel[(triton.cdiv(L, BL), triton.cdiv(D, BD), Bsz)](
        *args, *strides, **flags, BLOCK_L=BL, BLOCK_D=BD, num_warps=nw)
    return out


def _causal_conv1d_bwd(x, weight, bias, state, dout, silu, dx=None, seq=None):
    """(dx, dstate, dw, dbias); dx may be given (`[B, L, D]` with unit D stride, e.g. a slice of a fused dxz)."""
    Bsz, L, D = x.shape
    K = weight.shape[1]
    dout = dout.contiguous()
    if dx is None:
        dx = _empty(Bsz, L, D, dtype=x.dtype, device=x.device)
    elif dx.stride(2) != 1:
        raise ValueError("dx needs a unit channel stride")
    dst = _empty(Bsz, D, K - 1, dtype=state.dtype, device=x.device) if state is not None else None
    dw = torch.zeros(D, K, dtype=torch.float32, device=x.device)
    db = torch.zeros(D, dtype=torch.float32, device=x.device) if bias is not None else None
    args = (x, weight, bias if bias is not None else weight, state if state is not None else weight,
            seq if seq is not None else weight, dout, dx, dst if dst is not None else dx, dw,
            db if db is not None else dw, L, D)
    strides = (x.stride(0), x.stride(1), x.stride(2), state.stride(0) if state is not None else 0,
               state.stride(1) if state is not None else 0, dx.stride(0), dx.stride(1))
    flags = _flags(K, bias, state, seq, silu)
    if _rows_kernel("GENOMAMBA_CONV_BWD", K):
        bd, rows, ch, nw = _rows_cfg(x, L + 3, "bwd")
        _causal_conv1d_bwd_rows_kernel[(triton.cdiv(L + 3, ch), triton.cdiv(D, bd), Bsz)](
            *args, ch, *strides, **flags, ROWS=rows, BLOCK_D=bd, num_warps=nw)
    else:
        BL, BD, nw = _blocks(x)
        _causal_conv1d_bwd_kernel[(triton.cdiv(L + K - 1, BL), triton.cdiv(D, BD), Bsz)](
            *args, *strides, **flags, BLOCK_L=BL, BLOCK_D=BD, num_warps=nw)
    return dx, dst, dw, db


def final_conv_state(x: torch.Tensor, state: torch.Tensor | None, K: int,
                     seq_idx: torch.Tensor | None = None) -> torch.Tensor:
    """The last K-1 inputs `[B, D, K-1]` (carried state first when L < K-1); x: `[B, L, D]`. With
    seq_idx `[B, L]`, inputs of a sequence other than the last one (the state counts as position 0's) are zero."""
    Bsz, L, D = x.shape
    tail = x[:, max(0, L - (K - 1)):].transpose(1, 2)  # (B, min(L, K-1), D) -> (B, D, .)
    if L >= K - 1:
        fin = tail.contiguous()
    else:
        prev = state if state is not None else x.new_zeros(Bsz, D, K - 1)
        fin = torch.cat([prev[..., L:].to(x.dtype), tail], dim=-1)  # K-1 columns: no sequence-long copy
    if seq_idx is None:
        return fin
    pos = torch.arange(L - (K - 1), L, device=x.device).clamp_min(0)
    return fin * (seq_idx[:, pos] == seq_idx[:, -1:]).unsqueeze(1).to(fin.dtype)


class CausalConv1dFn(torch.autograd.Function):
    """Autograd for the fused conv; gradients reach x, weight, bias and the carried state."""

    @staticmethod
    def forward(ctx, x, weight, bias, state, silu, seq_idx):
        w = weight.reshape(weight.shape[0], -1).contiguous()
        st = None if state is None else state.contiguous()
        seq = None if seq_idx is None else seq_idx.to(torch.int32).contiguous()
        out = _causal_conv1d_fwd(x, w, bias, st, silu, seq)
        ctx.save_for_backward(x, w, bias, st, seq)
        ctx.silu, ctx.w_shape = silu, weight.shape
        return out

    @staticmethod
    def backward(ctx, dout):
        x, w, bias, st, seq = ctx.saved_tensors
        dx, dst, dw, db = _causal_conv1d_bwd(x, w, bias, st, dout, ctx.silu, seq=seq)
        return (dx, dw.to(w.dtype).reshape(ctx.w_shape), None if db is None else db.to(bias.dtype), dst, None,
                None)


def causal_conv1d_triton(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                         initial_state: torch.Tensor | None = None, activation: str | None = "silu",
                         return_final_state: bool = False, seq_idx: torch.Tensor | None = None):
    """Causal depthwise conv1d (+ SiLU) over channel-last x; same semantics as `causal_conv1d_ref`.

    Args:
        x: `[B, L, D]`, any strides (D-contiguous is fastest; a slice of a wider tensor is fine).
        weight: `[D, K]` or `[D, 1, K]` (nn.Conv1d's). bias: `[D]`.
        initial_state: `[B, D, K-1]`, the K-1 inputs before x[:, 0] (zeros when None).
        activation: "silu" or None.
        return_final_state: also return the last K-1 inputs `[B, D, K-1]` (torch slicing: gradients
            reach x and the initial state through it).
        seq_idx: `[B, L]` int, packed sequences: taps into another sequence read zero (see
            `genomamba.ops.causal_conv1d`).

    Returns:
        out `[B, L, D]` contiguous in x's dtype (and the final state).
    """
    if activation not in ("silu", None):
        raise ValueError(f"activation must be 'silu' or None, got {activation!r}")
    out = CausalConv1dFn.apply(x, weight, bias, initial_state, activation == "silu", seq_idx)
    if not return_final_state:
        return out
    return out, final_conv_state(x, initial_state, weight.shape[-1], seq_idx)
