"""The selective-scan kernels' view of a caller's tensors: which layouts they scan in place (L-contiguous or
channel-last `[B, L, D]` storage), the copies (tiled transposes) that bring other inputs to the channel-last
layout and take y and the grads back, B and C as `[B, G, N, L]`, and states between the API's `[..., D, N]`
and the kernels' `[..., N, D]`. Host code only. Imports torch and triton only."""

from __future__ import annotations

import os

import torch
from genomamba_kernels.common import runs_triton
from genomamba_kernels.transpose import to_channel_last, to_l_contiguous, transpose_last2


def _contig(x: torch.Tensor | None) -> torch.Tensor | None:
    return None if x is None else x.contiguous()


def _bc4(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(1) if x.dim() == 3 else x  # (B, N, L) -> (B, 1, N, L), a view


def _dense(x: torch.Tensor) -> torch.Tensor:
    """`[B, D, L]` as stored, when L-contiguous or D-contiguous (channel-last `[B, L, D]` transposed) and
    dense; otherwise an L-contiguous copy. The kernels take either layout with no transpose."""
    if x.stride(-1) != 1 and x.stride(1) == 1:
        return x.transpose(1, 2).contiguous().transpose(1, 2)  # no copy when already dense channel-last
    return x.contiguous()


def _match(x: torch.Tensor | None, ref: torch.Tensor) -> torch.Tensor | None:
    """x in ref's memory layout (a copy only when the strides differ), keeping x's dtype. Between
    the L-contiguous and channel-last layouts on CUDA the copy is the tiled transpose."""
    if x is None or x.stride() == ref.stride():
        return x
    if runs_triton(x) and x.dim() == 3 and x.stride(-1) == 1:
        if _channel_last(ref):
            return to_channel_last(x)
        if ref.is_contiguous() and _channel_last(x):
            return to_l_contiguous(x)
    return torch.empty_like(ref, dtype=x.dtype).copy_(x)


def _channel_last(x: torch.Tensor) -> bool:
    """x `[B, D, L]` is a dense channel-last view (`[B, L, D]` storage, unit D stride)."""
    return x.stride(1) == 1 and x.stride(2) == x.shape[1] and x.stride(0) == x.shape[1] * x.shape[2]


def _copies_to_channel_last(u: torch.Tensor) -> bool:
    """Whether L-contiguous inputs of this call are scanned on channel-last copies (tiled transposes in,
    and out again for y and the grads): the kernels' lanes lie along D, so on L-contiguous
    tensors Triton's layouts for the specialised unit L stride cost 448 shuffles a forward tile
    where channel-last costs 64 (regs.py --l-contig; BENCHMARKS.md 7j).
    GENOMAMBA_SCAN_LCONTIG=inplace scans them in place instead."""
    return runs_triton(u) and os.environ.get("GENOMAMBA_SCAN_LCONTIG", "copy") != "inplace"


def _to_caller(x: torch.Tensor | None, restaged: bool) -> torch.Tensor | None:
    """y, du, ddelta or dz (the kernels' layout) in the caller's layout: L-contiguous again if restaged."""
    return to_l_contiguous(x) if restaged and x is not None else x


def _bc_grad(dX: torch.Tensor, dtype: torch.dtype, dim: int, restaged: bool) -> torch.Tensor:
    """dB or dC (fp32 `[B, G, N, L]`, the kernels' layout) in the dtype and rank (dim 3: `[B, N, L]`)
    the caller gave B or C, and L-contiguous again if restaged."""
    dX = dX.to(dtype)
    if restaged:
        dX = _bc_l_contig(dX)
    return dX.squeeze(1) if dim == 3 else dX


def _bc_channel_last(x: torch.Tensor) -> torch.Tensor:
    """B or C `[B, G, N, L]`, L-contiguous -> the same values channel-last (`[B, L, G, N]` storage)."""
    Bsz, G, N, L = x.shape
    return transpose_last2(x.reshape(Bsz, G * N, L)).view(Bsz, L, G, N).permute(0, 2, 3, 1)


def _bc_l_contig(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `_bc_channel_last`: a contiguous `[B, G, N, L]` copy."""
    Bsz, G, N, L = x.shape
    return transpose_last2(x.permute(0, 3, 1, 2).reshape(Bsz, L, G * N)).view(Bsz, G, N, L)


def _prep(u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx):
    """The kernels' view of a call's inputs, and whether u was restaged (L-contiguous, copied
    channel-last: `_copies_to_channel_last`): then y and the grads go back to the caller L-contiguous."""
    copies = _copies_to_channel_last(u)
    restaged = copies and u.stride(-1) == 1 and u.shape[-1] > 1 and not _channel_last(u)
    u = to_channel_last(u) if restaged else _dense(u)
    delta = _match(delta, u)  # u, delta, y and their grads share one layout; z keeps its own strides
    cl = copies and _channel_last(u)
    if z is not None and cl and z.stride(-1) == 1:
        z = to_channel_last(z)
    if z is not None and z.stride(1) != 1 and z.stride(2) != 1:
        z = z.contiguous()
    B4, C4 = _bc4(B), _bc4(C)
    if B4.shape != C4.shape:
        raise ValueError(f"B {tuple(B.shape)} and C {tuple(C.shape)} must have the same shape")
    if cl and B4.stride(-1) == 1 and B4.shape[-1] > 1:  # a step's B and C rows: one sector each
        B4, C4 = _bc_channel_last(B4), _bc_channel_last(C4)
    if B4.stride() != C4.stride():  # the kernels read B and C with one set of strides
        B4, C4 = B4.contiguous(), C4.contiguous()
    Dm = u.shape[1]
    if Dm % B4.shape[1]:
        raise ValueError(f"channels D={Dm} not divisible by groups G={B4.shape[1]}")
    seq = None if seq_idx is None else seq_idx.to(torch.int32).contiguous()
    init = None if initial_state is None else _to_nd(initial_state.float())
    # the kernels keep states (and so A) as [N, D], channels fastest: a warp's lanes then hold
    # channels (with N over 4 lanes at 16-divisible D: see selective_scan.py's docstring)
    return u, delta, A.t().contiguous(), B4, C4, _contig(D), z, _contig(delta_bias), init, seq, restaged


def _to_nd(x: torch.Tensor) -> torch.Tensor:
    """A `[..., D, N]` state in the kernels' `[..., N, D]` layout (a small copy)."""
    return x.transpose(-1, -2).contiguous()


def _from_nd(x: torch.Tensor) -> torch.Tensor:
    """A kernel state `[..., N, D]` as the API's contiguous `[..., D, N]` (a small copy: callers
    such as `mamba_step` need a unit last stride)."""
    return x.transpose(-1, -2).contiguous()
