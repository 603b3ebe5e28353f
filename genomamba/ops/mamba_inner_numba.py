"""The Mamba mixer interior for CPU inference, channel-last in numba: no transpose, cat or copy.

`mamba_inner_ref` composes ops that want `[B, D, L]` (the conv, the scan), so on the CPU every layer
transposed and copied xc, delta, z, B and C. Here both kernels read the channel-last views as they
come from the matmuls (`[B, L, D]`, any strides: the x and z halves of xz, the dt/B/C split of
x_dbl) and write contiguous channel-last outputs:

- `causal_conv1d_silu_cl`: depthwise causal conv1d + SiLU with a carried state and packed sequences,
  `causal_conv1d_ref`'s results (parallel over batch x time blocks, channels innermost).
- `selective_scan_fwd_cl`: the forward selective scan (softplus(delta + bias), D skip, SiLU(z) gate,
  initial state, seq_idx resets), `selective_scan_ref`'s results (parallel over batch x channel
  blocks, time outer, the state block `[N, channels]` in L1, channels innermost as the SIMD lanes).
- `mamba_inner_numba_inference`: `mamba_inner_ref`'s function from them, with no autograd (the
  dispatch in `genomamba.ops.mamba_inner` uses it only when no gradient is needed).

All arithmetic is fp32 (exp, softplus and sigmoid as in `genomamba.ops.selective_scan_numba`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numba import prange

from genomamba.ops.selective_scan_numba import (
    _F0,
    _FASTMATH,
    _W,
    _exp,
    _jit,
    _sigmoid,
    _softplus,
    set_numba_threads,
)

_NO_SEQ = np.zeros((1, 1), dtype=np.int64)
_DUMMY1 = np.zeros(1, dtype=np.float32)
_DUMMY3 = np.zeros((1, 1, 1), dtype=np.float32)
_TBLOCK = 256  # conv: time steps per work item
_DBLOCK = 64  # scan: channels per work item (the state block is N x 64 fp32: 4 KiB at N = 16)


@_jit(parallel=True, fastmath=_FASTMATH, nogil=True)
def _conv_kernel(x, wt, bias, pre, seq, out, fin, has_bias, has_seq, silu, nblk):
    """x: [B, L, D] (any strides); wt: [K, D]; pre: [B, K-1, D], the inputs before t = 0; seq: [B, L];
    out: [B, L, D] contiguous; fin: [B, K-1, D], the last K-1 inputs of the last sequence."""
    Bsz, L, D = x.shape
    K = wt.shape[0]
    for item in prange(Bsz * nblk):
        b = item // nblk
        t0 = (item % nblk) * _TBLOCK
        t1 = min(t0 + _TBLOCK, L)
        acc = np.empty(D, dtype=np.float32)
        ring = np.empty((K, D), dtype=np.float32)  # input row s at ring[(s + K) % K]: contiguous copies
        for s in range(t0 - (K - 1), t0):
            ring[(s + K) % K] = x[b, s] if s >= 0 else pre[b, K - 1 + s]
        for t in range(t0, t1):
            ring[t % K] = x[b, t]
            if has_bias:
                for j in range(D):
                    acc[j] = bias[j]
            else:
                acc[:] = _F0
            for k in range(K):
                src = t - (K - 1) + k
                if has_seq and seq[b, max(src, 0)] != seq[b, t]:  # a tap into another sequence reads zero
                    continue  # (taps before t = 0 read the state, which is seq[b, 0]'s)
                wk = wt[k]
                row = ring[(src + K) % K]
                for j in range(D):
                    acc[j] += wk[j] * row[j]
            orow = out[b, t]
            if silu:
                for j in range(D):
                    a = acc[j]
                    orow[j] = a * _sigmoid(a)
            else:
                for j in range(D):
                    orow[j] = acc[j]
        if t1 == L:  # the block holding the last step writes the final state
            for i in range(K - 1):
                src = L - (K - 1) + i
                keep = (not has_seq) or seq[b, max(src, 0)] == seq[b, L - 1]
                frow = fin[b, i]
                row = ring[(src + K) % K]
                for j in range(D):
                    frow[j] = row[j] if keep else _F0


def causal_conv1d_silu_cl(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    seq_idx: torch.Tensor | None = None,
    activation: str | None = "silu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`causal_conv1d_ref(..., return_final_state=True)` on the CPU, in fp32, without autograd.

    Args:
        x: `[B, L, D]`, any strides (e.g. the x half of xz). weight: `[D, K]` or `[D, 1, K]`; bias `[D]`.
        initial_state: `[B, D, K-1]` (zeros when None). seq_idx: `[B, L]` int, packed sequences.

    Returns:
        out `[B, L, D]` fp32 contiguous, and the final state `[B, D, K-1]` fp32.
    """
    if activation not in ("silu", None):
        raise ValueError(f"activation must be 'silu' or None, got {activation!r}")
    Bsz, L, D = x.shape
    w = weight.detach().reshape(D, -1).float()
    K = w.shape[1]
    xf = x.detach().float()  # no copy for fp32
    if initial_state is None:
        pre = xf.new_zeros(Bsz, K - 1, D)
    else:
        pre = initial_state.detach().float().transpose(1, 2).contiguous()
    out = xf.new_empty(Bsz, L, D)
    fin = xf.new_empty(Bsz, K - 1, D)
    if L:
        set_numba_threads()
        seq = _NO_SEQ if seq_idx is None else seq_idx.detach().to(torch.int64).numpy()
        _conv_kernel(xf.numpy(), w.t().contiguous().numpy(),
                     _DUMMY1 if bias is None else bias.detach().float().contiguous().numpy(), pre.numpy(), seq,
                     out.numpy(), fin.numpy(), bias is not None, seq_idx is not None, activation == "silu",
                     -(-L // _TBLOCK))
    else:
        fin = pre
    return out, fin.transpose(1, 2)


@_jit(parallel=True, fastmath=_FASTMATH, nogil=True)
def _scan_kernel(u, delta, At, Bm, Cm, Dv, z, bias, h0, seq, y, hT,
                 has_D, has_z, has_bias, softplus, has_h0, has_seq, per):
    """u, delta, z: [B, L, Di] (any strides); At: [N, Di]; Bm, Cm: [B, L, N] (any strides);
    Dv, bias: [Di]; h0, hT: [B, Di, N]; seq: [B, L]; y: [B, L, Di] contiguous."""
    Bsz, L, Dm = u.shape
    N = At.shape[0]
    nsplit = -(-Dm // per)
    for item in prange(Bsz * nsplit):
        b = item // nsplit
        d0 = (item % nsplit) * per
        d1 = min(d0 + per, Dm)
        nd = d1 - d0
        nv = -(-nd // _W)  # the block padded to whole vectors: padded lanes have A = u = 0, so h stays 0 there
        ndp = nv * _W
        h = np.zeros((N, ndp), dtype=np.float32)
        if has_h0:
            for n in range(N):
                for j in range(nd):
                    h[n, j] = h0[b, d0 + j, n]
        Ab = np.zeros((N, ndp), dtype=np.float32)
        for n in range(N):
            for j in range(nd):
                Ab[n, j] = At[n, d0 + j]
        Db = np.zeros(ndp, dtype=np.float32)
        bb = np.zeros(ndp, dtype=np.float32)
        for j in range(nd):
            if has_D:
                Db[j] = Dv[d0 + j]
            if has_bias:
                bb[j] = bias[d0 + j]
        dt = np.zeros(ndp, dtype=np.float32)
        du = np.zeros(ndp, dtype=np.float32)
        acc = np.zeros(ndp, dtype=np.float32)
        urow = np.zeros(ndp, dtype=np.float32)  # contiguous copies of the strided rows: the loops vectorise
        drow = np.zeros(ndp, dtype=np.float32)
        zrow = np.zeros(ndp, dtype=np.float32)
        for t in range(L):
            if has_seq and t > 0 and seq[b, t] != seq[b, t - 1]:
                h[:] = _F0
            urow[:nd] = u[b, t, d0:d1]
            drow[:nd] = delta[b, t, d0:d1]
            for jb in range(nv):  # fixed-width blocks: one full vector each, no remainder or alias checks
                for w in range(_W):
                    j = jb * _W + w
                    v = drow[j] + bb[j]
                    if softplus:
                        v = _softplus(v)
                    uu = urow[j]
                    dt[j] = v
                    du[j] = v * uu
                    acc[j] = Db[j] * uu
            Brow = Bm[b, t]
            Crow = Cm[b, t]
            for jb in range(nv):
                for n in range(N):
                    bn = Brow[n]
                    cn = Crow[n]
                    for w in range(_W):
                        j = jb * _W + w
                        hn = _exp(dt[j] * Ab[n, j]) * h[n, j] + du[j] * bn
                        h[n, j] = hn
                        acc[j] += hn * cn
            yrow = y[b, t, d0:d1]
            if has_z:
                zrow[:nd] = z[b, t, d0:d1]
                for jb in range(nv):
                    for w in range(_W):
                        j = jb * _W + w
                        zz = zrow[j]
                        acc[j] *= zz * _sigmoid(zz)
            yrow[:] = acc[:nd]
        for j in range(nd):
            for n in range(N):
                hT[b, d0 + j, n] = h[n, j]


def _f32(x: torch.Tensor) -> torch.Tensor:
    return x.detach().float()


def selective_scan_fwd_cl(
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
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`selective_scan_ref(..., return_final_state=True)` (forward direction, one group) in the
    channel-last layout, on the CPU, in fp32, without autograd.

    Args:
        u, delta, z: `[B, L, Di]`, any strides. A: `[Di, N]`. B, C: `[B, L, N]`, any strides.
        D, delta_bias: `[Di]`. initial_state: `[B, Di, N]`. seq_idx: `[B, L]` int (the state restarts
        from zero where it changes).

    Returns:
        y `[B, L, Di]` fp32 contiguous and the final state `[B, Di, N]` fp32.
    """
    Bsz, L, Dm = u.shape
    N = A.shape[1]
    uf, df = _f32(u), _f32(delta)
    y = uf.new_empty(Bsz, L, Dm)
    hT = uf.new_empty(Bsz, Dm, N)
    threads = set_numba_threads()
    per = min(_DBLOCK, max(16, -(-Dm * Bsz // threads)))
    _scan_kernel(
        uf.numpy(), df.numpy(), _f32(A).t().contiguous().numpy(), _f32(B).numpy(), _f32(C).numpy(),
        _DUMMY1 if D is None else _f32(D).contiguous().numpy(), _DUMMY3 if z is None else _f32(z).numpy(),
        _DUMMY1 if delta_bias is None else _f32(delta_bias).contiguous().numpy(),
        _DUMMY3 if initial_state is None else _f32(initial_state).numpy(),
        _NO_SEQ if seq_idx is None else seq_idx.detach().to(torch.int64).numpy(), y.numpy(), hT.numpy(),
        D is not None, z is not None, delta_bias is not None, delta_softplus, initial_state is not None,
        seq_idx is not None, per,
    )
    return y, hT


def mamba_inner_numba_inference(
    xz: torch.Tensor,
    conv_weight: torch.Tensor,
    conv_bias: torch.Tensor | None,
    x_proj_weight: torch.Tensor,
    dt_proj_weight: torch.Tensor,
    dt_bias: torch.Tensor | None,
    A: torch.Tensor,
    D: torch.Tensor | None,
    out_proj_weight: torch.Tensor,
    dt_rank: int,
    d_state: int,
    conv_state: torch.Tensor | None = None,
    ssm_state: torch.Tensor | None = None,
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`mamba_inner_ref`'s function and outputs (see it for the arguments) without autograd, CPU only.

    The intermediates are rounded to xz's dtype where the composed ops round them (the conv output,
    the matmuls, y), so a bf16 model gives the composed path's results; in fp32 nothing is copied.
    """
    dtype = xz.dtype
    Di = xz.shape[-1] // 2
    with torch.no_grad():
        xc, conv_out = causal_conv1d_silu_cl(xz[..., :Di], conv_weight, conv_bias, conv_state, seq_idx)
        if dtype != torch.float32:
            xc = xc.to(dtype)
        x_dbl = F.linear(xc, x_proj_weight)  # (B, L, R + 2N)
        dt, Bm, Cm = torch.split(x_dbl, [dt_rank, d_state, d_state], dim=-1)
        delta = F.linear(dt, dt_proj_weight)
        y, ssm_out = selective_scan_fwd_cl(xc, delta, A, Bm, Cm, D, xz[..., Di:], dt_bias, True, ssm_state, seq_idx)
        out = F.linear(y.to(dtype), out_proj_weight)
    return out, conv_out.to(dtype), ssm_out
