"""Fused selective scan for the CPU in numba (LLVM JIT from a wheel, no compiler): the CPU default.

Mamba-1 scan (Gu & Dao 2023, arXiv:2312.00752) with the state of each channel kept in L1 and one
pass over the inputs: softplus, the decay exp, the state update, the C contraction, D and the
z gate are fused per step. Work items are (batch, group, block of channels), run in parallel
(`prange`); each sweeps the sequence in chunks of `_T` steps so that the chunk's B and C rows stay
in L1 while every channel of the block passes over them. The forward saves each channel's state
at every chunk start; the backward recomputes a chunk's states from there and runs the adjoint
scan right to left, summing dB and dC over its channels into a per-item partial. exp is a
vectorisable fp32 polynomial (libm's is scalar: it would cost more than the rest of a step).
The state and all arithmetic are fp32.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
import torch.nn.functional as F
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic

# Steps per chunk: the recomputed states and decays of one chunk ([T, N] each) and the chunk's
# B, C, dB, dC rows stay in L1; the saved chunk-start states cost N / T floats per input element.
_T = 64
# state lanes per inner block: N is padded to a multiple (A, B, C, h0 = 0 there), so every inner
# loop is one full AVX-512 vector (two AVX2 ones) with no remainder loop
_W = 16
# reductions over N must reassociate to vectorise; no nnan/ninf (inf and nan inputs stay visible)
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

_F0, _F1 = np.float32(0.0), np.float32(1.0)
_LOG2E = np.float32(1.4426950408889634)
# 2^y for y clamped to [-125, 127]: results stay normal floats (no subnormals, no inf)
_EXP2_MIN, _EXP2_MAX = np.float32(-125.0), np.float32(127.0)
# 2^f = 1 + f q(f) on |f| <= 1/2, q of degree 4 fitted for least maximum relative error (Remez-style
# reweighted least squares): 2.5e-7 relative at worst; the form is exact at f = 0, so decays near 1
# carry no systematic bias that a long product over steps would accumulate
_Q0, _Q1, _Q2, _Q3, _Q4 = (np.float32(c) for c in (0.6931471228599548, 0.24022351205348969, 0.05550500378012657,
                                                  0.009666245430707932, 0.0013333536917343736))
_SOFTPLUS_MAX = np.float32(20.0)  # torch's softplus threshold: softplus(x) = x above it


def _jit(**kwargs):
    """numba.njit with the on-disk cache where a cache directory is writable (numba tries the
    package's __pycache__, then the user cache), else compiled once per process."""

    kwargs.setdefault("error_model", "numpy")  # x / 0 gives inf, no ZeroDivisionError branch (which blocks SIMD)

    def wrap(fn):
        try:
            return numba.njit(cache=True, **kwargs)(fn)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            return numba.njit(cache=False, **kwargs)(fn)

    return wrap


@intrinsic
def _scale_pow2(typingctx, p, k):
    """p * 2^k for an integral float32 k, by adding k to p's exponent bits (no multiply; the
    caller keeps the result normal)."""

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        shift = builder.shl(builder.fptosi(args[1], i32), ir.Constant(i32, 23))
        return builder.bitcast(builder.add(builder.bitcast(args[0], i32), shift), ir.FloatType())

    return types.float32(types.float32, types.float32), codegen


@_jit(inline="always", fastmath=_FASTMATH)
def _exp(x):
    """exp(x) in fp32: within 3e-7 + 1e-7 |x| relative for x in [-86.6, 88]; about 2^-125 below."""
    y = min(max(x * _LOG2E, _EXP2_MIN), _EXP2_MAX)
    k = np.rint(y)
    f = y - k
    q = _Q4 * f + _Q3
    q = q * f + _Q2
    q = q * f + _Q1
    q = q * f + _Q0
    return _scale_pow2(q * f + _F1, k)


@_jit(inline="always", fastmath=_FASTMATH)
def _log1p_01(w):
    """log(1 + w) for w in [0, 1]: 2 atanh(s), s = w / (2 + w) <= 1/3 (series to s^15)."""
    s = w / (np.float32(2.0) + w)
    s2 = s * s
    p = np.float32(1.0 / 15.0) * s2 + np.float32(1.0 / 13.0)
    p = p * s2 + np.float32(1.0 / 11.0)
    p = p * s2 + np.float32(1.0 / 9.0)
    p = p * s2 + np.float32(1.0 / 7.0)
    p = p * s2 + np.float32(1.0 / 5.0)
    p = p * s2 + np.float32(1.0 / 3.0)
    p = p * s2 + _F1
    return np.float32(2.0) * s * p


@_jit(inline="always", fastmath=_FASTMATH)
def _softplus(x):
    """log(1 + e^x) as torch computes it (x itself above 20), without overflow."""
    r = max(x, _F0) + _log1p_01(_exp(-abs(x)))
    return x if x > _SOFTPLUS_MAX else r


@_jit(inline="always", fastmath=_FASTMATH)
def _sigmoid(x):
    return _F1 / (_F1 + _exp(-x))


@_jit(inline="always")
def _channels(item, Dg, G, nsplit, per):
    """Work item -> (batch, group, first channel, end channel)."""
    b = item // (G * nsplit)
    g = (item // nsplit) % G
    d0 = g * Dg + (item % nsplit) * per
    return b, g, d0, min(d0 + per, (g + 1) * Dg)


# Per-chunk pieces, compiled as functions of their own (LLVM inlines them): every vectorised loop
# indexes its arrays with a loop counter from range(), never with an offset of unknown sign, for
# which numba emits a negative-index select per element that blocks SIMD. So elementwise pieces
# take rows (x[b, d, t0:t0 + tn]) and the state loops run over fixed-width blocks of n.


@_jit(inline="always")
def _row(x, b, d, t0, tn, on):
    """x[b, d, t0:t0 + tn], or an empty row where x is a placeholder (on is False)."""
    return x[b, d, t0:t0 + tn] if on else x[0, 0, :0]


@_jit(fastmath=_FASTMATH, nogil=True)
def _dt_chunk(drow, urow, db, tn, softplus, xs, dt, du):
    """delta (+ bias, softplus) and delta * u of one channel's chunk; xs keeps the pre-softplus value."""
    for i in range(tn):
        x = drow[i] + db
        xs[i] = x
        v = _softplus(x) if softplus else x
        dt[i] = v
        du[i] = v * urow[i]


@_jit(fastmath=_FASTMATH, nogil=True)
def _scan_chunk(h, Ad, Bb, Cb, dt, du, ys, reset, b, t0, tn, has_reset, reverse):
    """The chunk's steps in scan order: h (the state, [Np]) is updated in place, ys[i] = C_t h_t."""
    N = h.shape[0]
    for k in range(tn):
        i = tn - 1 - k if reverse else k
        t = t0 + i
        if has_reset and reset[b, t] != 0:
            h[:] = _F0
        dti, dui = dt[i], du[i]
        acc = _F0
        for nb in range(N // _W):  # fixed-width blocks: one full vector each; n >= 0 by construction
            for w in range(_W):  # (no wraparound select on negative indices, which blocks vectorising)
                n = nb * _W + w
                hn = _exp(dti * Ad[n]) * h[n] + dui * Bb[t, n]
                h[n] = hn
                acc += hn * Cb[t, n]
        ys[i] = acc


@_jit(fastmath=_FASTMATH, nogil=True)
def _gate_fwd(ys, urow, zrow, yrow, Dd, tn, has_z):
    """y = (C h + D u) * silu(z) over one channel's chunk."""
    for i in range(tn):
        v = ys[i] + Dd * urow[i]
        if has_z:
            zz = zrow[i]
            v *= zz * _sigmoid(zz)
        yrow[i] = v


@_jit(fastmath=_FASTMATH, nogil=True)
def _rescan_chunk(hs, decays, Ad, Bb, Cb, dt, du, ys, reset, b, t0, tn, has_reset, reverse):
    """Recompute the chunk's states and decays (memory order i, decays[i] = exp(delta_i A), 0 where
    the state restarts). hs has tn + 1 rows: forward, hs[0] is the start and hs[i + 1] the state
    after step i; reverse, hs[tn] is the start and hs[i] the state after step i."""
    N = hs.shape[1]
    off = 0 if reverse else 1
    for k in range(tn):
        i = tn - 1 - k if reverse else k
        t = t0 + i
        rst = has_reset and reset[b, t] != 0
        dti, dui = dt[i], du[i]
        acc = _F0
        for nb in range(N // _W):
            for w in range(_W):
                n = nb * _W + w
                a = _F0 if rst else _exp(dti * Ad[n])
                hn = a * hs[i + 1 - off, n] + dui * Bb[t, n]
                decays[i, n] = a
                hs[i + off, n] = hn
                acc += hn * Cb[t, n]
        ys[i] = acc


@_jit(fastmath=_FASTMATH, nogil=True)
def _gate_bwd(ys, urow, zrow, gyrow, gzrow, Dd, tn, has_z, gs):
    """gs = dLoss/d(C h + D u) and dz over one channel's chunk; returns its share of dD."""
    gD = _F0
    for i in range(tn):
        go = gyrow[i]
        uu = urow[i]
        if has_z:
            zz = zrow[i]
            sg = _sigmoid(zz)
            gzrow[i] = go * (ys[i] + Dd * uu) * sg * (_F1 + zz * (_F1 - sg))
            go *= zz * sg
        gD += go * uu
        gs[i] = go
    return gD


@_jit(fastmath=_FASTMATH, nogil=True)
def _adjoint_chunk(g, gAd, gBc, gCc, hs, decays, Ad, Bb, Cb, dt, du, gs, gdu, gdl, t0, tn, reverse):
    """Adjoint of the chunk's steps, right to left in scan order. g ([Np]): dLoss/dh after the chunk
    on entry, before it on exit. Accumulates dA (gAd), dB and dC (gBc, gCc: [T, Np], chunk rows);
    writes dLoss/d(delta u) (gdu) and dLoss/d(delta) through the decay (gdl) per step."""
    N = g.shape[0]
    off = 0 if reverse else 1
    for k in range(tn):
        i = k if reverse else tn - 1 - k
        t = t0 + i
        gsi, dti, dui = gs[i], dt[i], du[i]
        su = _F0
        sl = _F0
        for nb in range(N // _W):
            for w in range(_W):
                n = nb * _W + w
                gn = g[n] + gsi * Cb[t, n]  # dLoss/dh_t
                gCc[i, n] += gsi * hs[i + off, n]
                gBc[i, n] += gn * dui
                su += gn * Bb[t, n]
                a = decays[i, n]
                q = gn * hs[i + 1 - off, n] * a  # dLoss/d(delta_t A)
                sl += q * Ad[n]
                gAd[n] += q * dti
                g[n] = gn * a  # dLoss/dh_{t-1}
        gdu[i] = su
        gdl[i] = sl


@_jit(fastmath=_FASTMATH, nogil=True)
def _dt_bwd(gdu, gdl, gs, xs, dt, urow, Dd, gurow, gdrow, tn, softplus):
    """du and d(delta) of one channel's chunk (through bias and softplus); returns its share of d(bias)."""
    gb = _F0
    for i in range(tn):
        gdt = gdu[i] * urow[i] + gdl[i]
        if softplus:
            gdt *= _sigmoid(xs[i])
        gdrow[i] = gdt
        gb += gdt
        gurow[i] = gdu[i] * dt[i] + gs[i] * Dd
    return gb


@_jit(parallel=True, fastmath=_FASTMATH, nogil=True)
def _selective_scan_fwd_kernel(u, delta, A, Bt, Ct, Dv, z, bias, h0, reset, y, hT, ckpt,
                               has_D, has_z, has_bias, softplus, has_h0, has_reset, reverse, save_ckpt,
                               T, nsplit, per):
    """Forward. u, delta, z, y: [B, D, L]; A: [D, Np]; Bt, Ct: [B, G, L, Np]; Dv, bias: [D];
    h0, hT: [B, D, Np]; reset: [B, L] uint8 (1 where the state restarts from zero);
    ckpt: [B, D, nc, Np], the state entering each chunk in scan order (written if save_ckpt)."""
    Bsz, Dm, L = u.shape
    G, N = Bt.shape[1], A.shape[1]
    Dg = Dm // G
    nc = (L + T - 1) // T
    for item in prange(Bsz * G * nsplit):
        b, g, d0, d1 = _channels(item, Dg, G, nsplit, per)
        nd = d1 - d0
        carry = np.zeros((max(nd, 1), N), dtype=np.float32)
        if has_h0:
            carry[:nd] = h0[b, d0:d1]
        xs = np.empty(T, dtype=np.float32)
        dt = np.empty(T, dtype=np.float32)
        du = np.empty(T, dtype=np.float32)
        ys = np.empty(T, dtype=np.float32)
        Bb, Cb = Bt[b, g], Ct[b, g]
        for ci in range(nc):
            c = nc - 1 - ci if reverse else ci
            t0 = c * T
            tn = min(T, L - t0)
            for j in range(nd):
                d = d0 + j
                if save_ckpt:
                    ckpt[b, d, c] = carry[j]
                urow = u[b, d, t0:t0 + tn]
                _dt_chunk(delta[b, d, t0:t0 + tn], urow, bias[d] if has_bias else _F0, tn, softplus, xs, dt, du)
                _scan_chunk(carry[j], A[d], Bb, Cb, dt, du, ys, reset, b, t0, tn, has_reset, reverse)
                _gate_fwd(ys, urow, _row(z, b, d, t0, tn, has_z), y[b, d, t0:t0 + tn], Dv[d] if has_D else _F0,
                          tn, has_z)
        hT[b, d0:d1] = carry[:nd]


@_jit(parallel=True, fastmath=_FASTMATH, nogil=True)
def _selective_scan_bwd_kernel(u, delta, A, Bt, Ct, Dv, z, bias, reset, ckpt, gy, gH,
                               gu, gdelta, gA, gBp, gCp, gDv, gz, gbias, gh0,
                               has_D, has_z, has_bias, softplus, has_reset, reverse, T, nsplit, per):
    """Adjoint of the forward kernel (same layouts; gy: [B, D, L], gH: [B, D, Np]). Writes every
    gradient; those of parameters per batch (gA: [B, D, Np]; gDv, gbias: [B, D]) and dB, dC per
    item (gBp, gCp: [B, G, nsplit, L, Np]): the caller sums them."""
    Bsz, Dm, L = u.shape
    G, N = Bt.shape[1], A.shape[1]
    Dg = Dm // G
    nc = (L + T - 1) // T
    for item in prange(Bsz * G * nsplit):
        b, g, d0, d1 = _channels(item, Dg, G, nsplit, per)
        s = item % nsplit
        nd = d1 - d0
        gcarry = np.empty((max(nd, 1), N), dtype=np.float32)  # dLoss/dh at the end of the chunk
        gcarry[:nd] = gH[b, d0:d1]
        gAacc = np.zeros((max(nd, 1), N), dtype=np.float32)
        gDacc = np.zeros(max(nd, 1), dtype=np.float32)
        gbacc = np.zeros(max(nd, 1), dtype=np.float32)
        xs = np.empty(T, dtype=np.float32)
        dt = np.empty(T, dtype=np.float32)
        du = np.empty(T, dtype=np.float32)
        ys = np.empty(T, dtype=np.float32)
        gs = np.empty(T, dtype=np.float32)
        gdu = np.empty(T, dtype=np.float32)
        gdl = np.empty(T, dtype=np.float32)
        hs = np.empty((T + 1, N), dtype=np.float32)
        decays = np.empty((T, N), dtype=np.float32)
        gBc = np.empty((T, N), dtype=np.float32)
        gCc = np.empty((T, N), dtype=np.float32)
        Bb, Cb = Bt[b, g], Ct[b, g]
        for ci in range(nc):
            c = ci if reverse else nc - 1 - ci  # chunks in reverse scan order
            t0 = c * T
            tn = min(T, L - t0)
            gBc[:] = _F0
            gCc[:] = _F0
            for j in range(nd):
                d = d0 + j
                hs[tn if reverse else 0] = ckpt[b, d, c]
                urow = u[b, d, t0:t0 + tn]
                Dd = Dv[d] if has_D else _F0
                _dt_chunk(delta[b, d, t0:t0 + tn], urow, bias[d] if has_bias else _F0, tn, softplus, xs, dt, du)
                _rescan_chunk(hs, decays, A[d], Bb, Cb, dt, du, ys, reset, b, t0, tn, has_reset, reverse)
                gDacc[j] += _gate_bwd(ys, urow, _row(z, b, d, t0, tn, has_z), gy[b, d, t0:t0 + tn],
                                      _row(gz, b, d, t0, tn, has_z), Dd, tn, has_z, gs)
                _adjoint_chunk(gcarry[j], gAacc[j], gBc, gCc, hs, decays, A[d], Bb, Cb, dt, du, gs, gdu, gdl,
                               t0, tn, reverse)
                gbacc[j] += _dt_bwd(gdu, gdl, gs, xs, dt, urow, Dd, gu[b, d, t0:t0 + tn], gdelta[b, d, t0:t0 + tn],
                                    tn, softplus)
            gBp[b, g, s, t0:t0 + tn] = gBc[:tn]
            gCp[b, g, s, t0:t0 + tn] = gCc[:tn]
        gh0[b, d0:d1] = gcarry[:nd]
        gA[b, d0:d1] = gAacc[:nd]
        gDv[b, d0:d1] = gDacc[:nd]
        gbias[b, d0:d1] = gbacc[:nd]


def _plan(Bsz: int, G: int, Dg: int) -> tuple[int, int]:
    """(nsplit, channels per item): enough items per (batch, group) to give every thread work."""
    threads = numba.get_num_threads()
    nsplit = max(1, min(Dg, -(-threads // (Bsz * G))))
    per = -(-Dg // nsplit)
    return -(-Dg // per), per


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy()


_DUMMY1 = np.zeros(1, dtype=np.float32)
_DUMMY3 = np.zeros((1, 1, 1), dtype=np.float32)
_DUMMY4 = np.zeros((1, 1, 1, 1), dtype=np.float32)
_NO_RESET = np.zeros((1, 1), dtype=np.uint8)


def _f32(x: torch.Tensor | None) -> torch.Tensor | None:
    return None if x is None else x.float().contiguous()


def _pad_state(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Zero-pad the last (state) dimension by `pad`."""
    return F.pad(x, (0, pad)) if pad else x


def set_numba_threads() -> int:
    """Numba's thread count follows torch's (capped at what numba started with); returns it."""
    threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(threads)
    return threads


def _opt(x: torch.Tensor | None, dummy: np.ndarray) -> np.ndarray:
    return dummy if x is None else _np(x)


def _selective_scan_fwd(u, delta, A, Bt, Ct, Dv, z, bias, h0, reset, softplus, reverse, save_ckpt):
    """Runs the forward kernel on fp32 contiguous tensors; returns y, the final state and the
    chunk-start states (None unless save_ckpt)."""
    Bsz, Dm, L = u.shape
    G, N = Bt.shape[1], A.shape[1]
    nsplit, per = _plan(Bsz, G, Dm // G)
    y = torch.empty_like(u)
    hT = u.new_empty(Bsz, Dm, N)
    ckpt = u.new_empty(Bsz, Dm, -(-L // _T), N) if save_ckpt else None
    _selective_scan_fwd_kernel(
        _np(u), _np(delta), _np(A), _np(Bt), _np(Ct), _opt(Dv, _DUMMY1), _opt(z, _DUMMY3), _opt(bias, _DUMMY1),
        _opt(h0, _DUMMY3), _NO_RESET if reset is None else _np(reset), _np(y), _np(hT), _opt(ckpt, _DUMMY4),
        Dv is not None, z is not None, bias is not None, softplus, h0 is not None, reset is not None, reverse,
        save_ckpt, _T, nsplit, per,
    )
    return y, hT, ckpt


class SelectiveScanNumbaFn(torch.autograd.Function):
    """Fused forward and backward; saves the inputs and the chunk-start states, never [B, D, L, N]."""

    @staticmethod
    def forward(ctx, u, delta, A, Bt, Ct, Dv, z, bias, h0, reset, softplus, reverse):
        y, hT, ckpt = _selective_scan_fwd(u, delta, A, Bt, Ct, Dv, z, bias, h0, reset, softplus, reverse, True)
        ctx.save_for_backward(u, delta, A, Bt, Ct, Dv, z, bias, reset, ckpt)
        ctx.flags = (softplus, reverse, h0 is not None)
        return y, hT

    @staticmethod
    def backward(ctx, gy, gH):
        u, delta, A, Bt, Ct, Dv, z, bias, reset, ckpt = ctx.saved_tensors
        softplus, reverse, has_h0 = ctx.flags
        Bsz, Dm, L = u.shape
        G, N = Bt.shape[1], A.shape[1]
        nsplit, per = _plan(Bsz, G, Dm // G)
        gy = torch.zeros_like(u) if gy is None else gy.float().contiguous()
        gH = u.new_zeros(Bsz, Dm, N) if gH is None else gH.float().contiguous()
        gu, gdelta = torch.empty_like(u), torch.empty_like(u)
        gz = torch.empty_like(u) if z is not None else None
        gA, gh0 = u.new_empty(Bsz, Dm, N), u.new_empty(Bsz, Dm, N)
        gBp, gCp = (u.new_empty(Bsz, G, nsplit, L, N) for _ in range(2))
        gDv, gbias = u.new_empty(Bsz, Dm), u.new_empty(Bsz, Dm)
        _selective_scan_bwd_kernel(
            _np(u), _np(delta), _np(A), _np(Bt), _np(Ct), _opt(Dv, _DUMMY1), _opt(z, _DUMMY3), _opt(bias, _DUMMY1),
            _NO_RESET if reset is None else _np(reset), _np(ckpt), _np(gy), _np(gH),
            _np(gu), _np(gdelta), _np(gA), _np(gBp), _np(gCp), _np(gDv), _opt(gz, _DUMMY3), _np(gbias), _np(gh0),
            Dv is not None, z is not None, bias is not None, softplus, reset is not None, reverse, _T, nsplit, per,
        )
        return (gu, gdelta, gA.sum(0), gBp.sum(2), gCp.sum(2), gDv.sum(0) if Dv is not None else None, gz,
                gbias.sum(0) if bias is not None else None, gh0 if has_h0 else None, None, None, None)


def selective_scan_numba(
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
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Same signature, layouts and results as `selective_scan_ref`, on CPU tensors.

    Args:
        u, delta, z: `[B, D, L]`. A: `[D, N]`. B, C: `[B, N, L]` or grouped `[B, G, N, L]`.
        D, delta_bias: `[D]`. initial_state: `[B, D, N]`. seq_idx: `[B, L]` int.

    Returns:
        y `[B, D, L]` in u's dtype, and with return_final_state the final state `[B, D, N]` fp32.

    Raises:
        ValueError: D not divisible by the number of groups G, or tensors not on the CPU.
    """
    if u.device.type != "cpu":
        raise ValueError(f"scan backend 'numba' runs on CPU tensors, got {u.device}")
    dtype_in = u.dtype
    Bsz, Dm, L = u.shape
    if B.dim() == 3:  # (B, N, L) -> (B, 1, N, L): one group
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    G = B.shape[1]
    if Dm % G:
        raise ValueError(f"channels D={Dm} not divisible by groups G={G}")
    set_numba_threads()
    N = A.shape[1]
    pad = -N % _W
    # (B, G, N, L) -> (B, G, L, Np): each step reads one contiguous row
    Bt, Ct = (_pad_state(x.float().transpose(-1, -2), pad).contiguous() for x in (B, C))
    reset = None
    if seq_idx is not None:  # 1 where the state restarts: seq_idx differs from the previous step scanned
        reset = torch.zeros(Bsz, L, dtype=torch.uint8)
        if reverse:
            reset[:, :-1] = seq_idx[:, :-1] != seq_idx[:, 1:]
        else:
            reset[:, 1:] = seq_idx[:, 1:] != seq_idx[:, :-1]
    h0 = None if initial_state is None else _pad_state(_f32(initial_state), pad)
    args = (_f32(u), _f32(delta), _pad_state(_f32(A), pad), Bt, Ct, _f32(D), _f32(z), _f32(delta_bias), h0, reset)
    if torch.is_grad_enabled() and any(x is not None and x.requires_grad for x in args):
        y, hT = SelectiveScanNumbaFn.apply(*args, delta_softplus, reverse)
    else:
        y, hT, _ = _selective_scan_fwd(*args, delta_softplus, reverse, False)
    y = y.to(dtype_in)
    return (y, hT[..., :N].contiguous()) if return_final_state else y
