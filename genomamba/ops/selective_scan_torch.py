"""Chunked selective scan in plain torch with a hand-written backward: the CPU default backend.

Mamba-1 scan (Gu & Dao 2023, arXiv:2312.00752) as a two-level scan: the sequence is cut into nc
chunks of T (16) steps and a Python loop over the T positions updates a block of chunks at once
(vectorised over batch, chunks, channels, state; each call's slice is cache-sized). A first sweep
scans every chunk from a zero state, a loop over chunks carries the true start states, and a second
sweep rescans from them while contracting with C. `SelectiveScanFn` saves its [B, L, D]-sized inputs
and the chunk-start states only; its backward recomputes each block's states from those starts and
runs the adjoint (reverse) scan with the same chunk trick. The state and all arithmetic stay fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Steps per chunk. Small T keeps the backward's recomputed states of a block of chunks
# (T x slice) cache-sized; the price is a carry loop of L / T sequential steps over [B, D, N].
_T = 16
# elements of the [B, chunks, D, N] slice one torch call updates in the forward: large enough to
# amortise the ~5 us per call, small enough to stay in L2/L3
_SLICE = 1 << 18
# elements of the recomputed-state buffer of one backward block (x2 with the decays)
_BWD_BLOCK = 1 << 21


def _vm(v: torch.Tensor, M: torch.Tensor, out: torch.Tensor) -> None:
    """out[..., d] = sum_n v[..., n] M[..., n, d]: the row-vector matmul form, the fast one on CPU."""
    out.copy_(torch.matmul(v.unsqueeze(-2), M).squeeze(-2))


def _decay(dl_t: torch.Tensor, A: torch.Tensor, keep_t: torch.Tensor | None, out: torch.Tensor) -> torch.Tensor:
    """a_t = keep_t * exp(delta_t * A) into `out` `[B, nc, G, N, Dg]`."""
    torch.mul(dl_t.unsqueeze(-2), A, out=out)
    out.exp_()
    if keep_t is not None:
        out.mul_(keep_t[:, :, None, None, None])
    return out


def _chunk_decay(dl: torch.Tensor, A: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """Product of a_t over each chunk `[B, nc, G, N, Dg]`."""
    P = torch.exp(dl.sum(2).unsqueeze(-2) * A)
    if keep is not None:
        P.mul_(keep.prod(2)[:, :, None, None, None])
    return P


def _scan_fwd(
    dl: torch.Tensor,
    du: torch.Tensor,
    Bs: torch.Tensor,
    Cs: torch.Tensor,
    A: torch.Tensor,
    keep: torch.Tensor | None,
    h0: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward in chunk layout (no autograd). The state is kept as `[N, Dg]` per group: that makes
    the C contraction a row-vector matmul and the decay and input products broadcast cheaply.
    Chunks are swept in blocks whose per-step slice is about `_SLICE` elements (cache-sized).

    Args:
        dl, du: delta and delta * u `[B, nc, T, G, Dg]`. Bs, Cs: `[B, nc, T, G, N]`.
        A: `[G, N, Dg]`. keep: `[B, nc, T]` or None. h0: `[B, G, N, Dg]` or None.

    Returns:
        y `[B, nc, T, G, Dg]`, final state `[B, G, N, Dg]`, chunk-start states `[B, nc, G, N, Dg]`.
    """
    Bsz, nc, T, G, Dg = dl.shape
    N = A.shape[1]
    nb = max(1, min(nc, _SLICE // (Bsz * G * N * Dg)))  # chunks per block
    blocks = [(c0, min(nc, c0 + nb)) for c0 in range(0, nc, nb)]
    bufs: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def buffers(m: int) -> tuple[torch.Tensor, torch.Tensor]:
        if m not in bufs:
            bufs[m] = (dl.new_empty(Bsz, m, G, N, Dg), dl.new_empty(Bsz, m, G, N, Dg))
        return bufs[m]

    H = dl.new_zeros(Bsz, G, N, Dg) if h0 is None else h0
    starts = dl.new_empty(Bsz, nc, G, N, Dg)
    # one chunk per block (large B * D * N): scan straight through, recording the chunk starts;
    # the chunk-parallel sweep from zero would only add passes
    straight = nb == 1
    if nc > 1 and not straight:  # each chunk from zero, then the true start states carried over
        ends = torch.empty_like(starts)
        for c0, c1 in blocks:
            h, a = buffers(c1 - c0)
            h.zero_()
            for t in range(T):
                h.mul_(_decay(dl[:, c0:c1, t], A, None if keep is None else keep[:, c0:c1, t], a))
                h.addcmul_(du[:, c0:c1, t].unsqueeze(-2), Bs[:, c0:c1, t].unsqueeze(-1))
            ends[:, c0:c1] = h
        P = _chunk_decay(dl, A, keep)
        for c in range(nc):
            starts[:, c] = H
            H = torch.addcmul(ends[:, c], P[:, c], H)
        del ends, P
    else:
        starts[:, 0] = H
    y = torch.empty_like(dl)
    for c0, c1 in blocks:
        h, a = buffers(c1 - c0)
        if straight and c0:  # h holds the end of the previous chunk
            starts[:, c0] = h[:, 0]
        else:
            h.copy_(starts[:, c0:c1])
        for t in range(T):
            h.mul_(_decay(dl[:, c0:c1, t], A, None if keep is None else keep[:, c0:c1, t], a))
            h.addcmul_(du[:, c0:c1, t].unsqueeze(-2), Bs[:, c0:c1, t].unsqueeze(-1))
            _vm(Cs[:, c0:c1, t], h, y[:, c0:c1, t])
    return y, h[:, -1].clone(), starts


def _scan_bwd(
    dl: torch.Tensor,
    du: torch.Tensor,
    Bs: torch.Tensor,
    Cs: torch.Tensor,
    A: torch.Tensor,
    keep: torch.Tensor | None,
    starts: torch.Tensor,
    gy: torch.Tensor,
    gH: torch.Tensor | None,
) -> tuple[torch.Tensor, ...]:
    """Adjoint of `_scan_fwd`: grads of dl, du, Bs, Cs, A and h0 (same layouts).

    Works on blocks of chunks, right to left, so the recomputed states and decays of a block fit
    a reused buffer of about `_BWD_BLOCK` elements (fresh [L, D, N] buffers cost more in page faults
    than the arithmetic). Within a block, the chunks are processed in parallel as in the forward.
    """
    Bsz, nc, T, G, Dg = dl.shape
    N = A.shape[1]
    nb = max(1, min(nc, _BWD_BLOCK // (T * Bsz * G * N * Dg)))  # chunks per block
    gdl, gdu = torch.empty_like(dl), torch.empty_like(du)
    gB, gC = torch.empty_like(Bs), torch.empty_like(Cs)
    gA = torch.zeros_like(A)
    # adjoint entering the end of the current block from the steps after it
    gin = dl.new_zeros(Bsz, G, N, Dg) if gH is None else gH
    bufs = None
    for c1 in range(nc, 0, -nb):
        c0 = max(0, c1 - nb)
        m = c1 - c0
        if bufs is None or bufs[0].shape[2] != m:
            bufs = (dl.new_empty(T, Bsz, m, G, N, Dg), dl.new_empty(T, Bsz, m, G, N, Dg),
                    dl.new_empty(Bsz, m, G, N, Dg), dl.new_empty(Bsz, m, G, N, Dg), dl.new_empty(Bsz, m, G, N, Dg))
        hs, decays, g, w, acc = bufs
        dlb, dub, Bb, Cb, gyb = dl[:, c0:c1], du[:, c0:c1], Bs[:, c0:c1], Cs[:, c0:c1], gy[:, c0:c1]
        kb = None if keep is None else keep[:, c0:c1]
        sb = starts[:, c0:c1]
        # recompute the block's states from the saved chunk starts, keeping the decays
        h = sb
        for t in range(T):
            torch.mul(h, _decay(dlb[:, :, t], A, None if kb is None else kb[:, :, t], decays[t]), out=hs[t])
            hs[t].addcmul_(dub[:, :, t].unsqueeze(-2), Bb[:, :, t].unsqueeze(-1))
            h = hs[t]
        # g = adjoint entering each chunk's end: carried right to left from each chunk's
        # from-zero adjoint reduced to its start (w)
        g.zero_()
        g[:, -1] = gin
        if m > 1:
            torch.mul(Cb[:, :, T - 1].unsqueeze(-1), gyb[:, :, T - 1].unsqueeze(-2), out=w)
            w.mul_(decays[T - 1])
            for t in range(T - 2, -1, -1):
                w.addcmul_(Cb[:, :, t].unsqueeze(-1), gyb[:, :, t].unsqueeze(-2)).mul_(decays[t])
            P = _chunk_decay(dlb, A, kb)
            for c in range(m - 1, 0, -1):
                torch.addcmul(w[:, c], P[:, c], g[:, c], out=g[:, c - 1])
        acc.zero_()  # sum over steps of delta_t * dLoss/d(delta_t A)
        for t in range(T - 1, -1, -1):
            g.addcmul_(Cb[:, :, t].unsqueeze(-1), gyb[:, :, t].unsqueeze(-2))  # g = dLoss/dh_t
            torch.sum(torch.mul(hs[t], gyb[:, :, t].unsqueeze(-2), out=w), -1, out=gC[:, c0:c1, t])
            torch.sum(torch.mul(g, dub[:, :, t].unsqueeze(-2), out=w), -1, out=gB[:, c0:c1, t])
            _vm(Bb[:, :, t], g, gdu[:, c0:c1, t])
            g.mul_(decays[t])  # dLoss/dh_{t-1}
            torch.mul(g, hs[t - 1] if t else sb, out=w)  # dLoss/d(delta_t A)
            acc.addcmul_(w, dlb[:, :, t].unsqueeze(-2))
            torch.sum(w.mul_(A), -2, out=gdl[:, c0:c1, t])
        gA += acc.sum((0, 1))
        gin = g[:, 0].clone()
    return gdl, gdu, gB, gC, gA, gin


class SelectiveScanFn(torch.autograd.Function):
    """Chunked scan in chunk layout; saves inputs and chunk-start states, not the [L, D, N] states."""

    @staticmethod
    def forward(ctx, dl, du, Bs, Cs, A, h0, keep):
        y, hT, starts = _scan_fwd(dl, du, Bs, Cs, A, keep, h0)
        ctx.save_for_backward(dl, du, Bs, Cs, A, keep, starts)
        ctx.has_h0 = h0 is not None
        return y, hT

    @staticmethod
    def backward(ctx, gy, gH):
        dl, du, Bs, Cs, A, keep, starts = ctx.saved_tensors
        gy = torch.zeros_like(dl) if gy is None else gy.contiguous()
        gdl, gdu, gB, gC, gA, gh0 = _scan_bwd(dl, du, Bs, Cs, A, keep, starts, gy, gH)
        return gdl, gdu, gB, gC, gA, (gh0 if ctx.has_h0 else None), None


def selective_scan_torch(
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
    """Same signature, layouts and results as `selective_scan_ref`.

    Args:
        u, delta, z: `[B, D, L]`. A: `[D, N]`. B, C: `[B, N, L]` or grouped `[B, G, N, L]`.
        D, delta_bias: `[D]`. initial_state: `[B, D, N]`. seq_idx: `[B, L]` int.
        chunk_size: steps per chunk T (default 16, at most L); tests vary it to
            exercise chunk boundaries.

    Returns:
        y `[B, D, L]` in u's dtype, and with return_final_state the final state `[B, D, N]` fp32.

    Raises:
        ValueError: D not divisible by the number of groups G.
    """
    dtype_in = u.dtype
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    u32, delta = u.float(), delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    Bm, Cm = B.float(), C.float()
    if Bm.dim() == 3:  # (B, N, L) -> (B, 1, N, L): one group
        Bm, Cm = Bm.unsqueeze(1), Cm.unsqueeze(1)
    G = Bm.shape[1]
    if Dm % G:
        raise ValueError(f"channels D={Dm} not divisible by groups G={G}")
    Dg = Dm // G
    keep = None
    if seq_idx is not None:  # keep[t] = 0 where a new sequence starts: the decay into t is cut
        keep = torch.ones(Bsz, L, device=u.device)
        if reverse:
            keep[:, :-1] = (seq_idx[:, :-1] == seq_idx[:, 1:]).float()
        else:
            keep[:, 1:] = (seq_idx[:, 1:] == seq_idx[:, :-1]).float()
    du = delta * u32
    if reverse:  # the fused kernels index backwards; here flipping [B, D, L] tensors is cheap
        delta, du, Bm, Cm = delta.flip(-1), du.flip(-1), Bm.flip(-1), Cm.flip(-1)
        keep = keep.flip(-1) if keep is not None else None

    T = min(chunk_size or _T, L)
    nc = -(-L // T)
    pad = nc * T - L
    if pad:  # delta = 0 and B = 0 in the padding: decay 1, no input, the state passes unchanged
        delta, du, Bm, Cm = (F.pad(x, (0, pad)) for x in (delta, du, Bm, Cm))
        keep = F.pad(keep, (0, pad), value=1.0) if keep is not None else None
    # (B, D, L) -> (B, L, D) -> (B, nc, T, G, Dg);  (B, G, N, L) -> (B, L, G, N) -> (B, nc, T, G, N)
    dl = delta.transpose(1, 2).contiguous().view(Bsz, nc, T, G, Dg)
    dus = du.transpose(1, 2).contiguous().view(Bsz, nc, T, G, Dg)
    Bs = Bm.permute(0, 3, 1, 2).contiguous().view(Bsz, nc, T, G, N)
    Cs = Cm.permute(0, 3, 1, 2).contiguous().view(Bsz, nc, T, G, N)
    ks = keep.view(Bsz, nc, T) if keep is not None else None
    # (D, N) -> (G, N, Dg);  (B, D, N) -> (B, G, N, Dg): state as [N, Dg] per group
    Ag = A.float().reshape(G, Dg, N).transpose(1, 2).contiguous()
    h0 = initial_state.float().reshape(Bsz, G, Dg, N).transpose(2, 3).contiguous() if initial_state is not None else None

    if torch.is_grad_enabled() and any(x.requires_grad for x in (dl, dus, Bs, Cs, Ag) + ((h0,) if h0 is not None else ())):
        ys, hT = SelectiveScanFn.apply(dl, dus, Bs, Cs, Ag, h0, ks)
    else:
        with torch.no_grad():
            ys, hT, _ = _scan_fwd(dl, dus, Bs, Cs, Ag, ks, h0)
    y = ys.view(Bsz, nc * T, Dm).transpose(1, 2)[..., :L].contiguous()  # (B, nc, T, G, Dg) -> (B, D, L)
    if reverse:
        y = y.flip(-1)
    grad = torch.is_grad_enabled() and any(
        x is not None and x.requires_grad for x in (u, delta, A, B, C, D, z, delta_bias, initial_state))
    if grad:
        if D is not None:
            y = y + u32 * D.float()[:, None]
        if z is not None:
            y = y * F.silu(z.float())
    else:  # inference (long L): in place, each [B, D, L] temporary costs a pass and page faults
        if D is not None:
            y.addcmul_(u32, D.float()[:, None])
        if z is not None:
            y.mul_(F.silu(z.float()))
    y = y.to(dtype_in)
    return (y, hT.transpose(-1, -2).reshape(Bsz, Dm, N).contiguous()) if return_final_state else y
