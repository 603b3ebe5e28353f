"""Tiled transpose of the last two dimensions, for moving scan tensors between the L-contiguous
`[B, D, L]` layout (mamba-ssm's) and the channel-last `[B, L, D]` one (the mixer's, where the scan
kernels are fastest).

torch's strided copy reads one side of a transpose uncoalesced: copying a scan's inputs to
channel-last with it cost more than the faster scan saved (BENCHMARKS.md 7h). Here each program
loads a `[BLOCK_R, BLOCK_C]` tile along its rows and stores it along its columns; Triton stages the
tile through shared memory, so both sides move whole sectors. Imports torch and triton only.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from genomamba_kernels.common import runs_triton


@triton.jit
def _transpose_kernel(x_ptr, y_ptr, R, C, stride_xb, stride_xr, stride_yb,
                      BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    """y[b, c, r] = x[b, r, c]: x has unit stride along C, y (contiguous `[B, C, R]`) along R.
    The tiles of one batch row are all on grid axis 0 (2^31 - 1 programs, where axis 1 allows 65,535)."""
    n_c = tl.cdiv(C, BLOCK_C)
    pid, pid_b = tl.program_id(0), tl.program_id(1)
    pid_r, pid_c = pid // n_c, pid % n_c
    offs_r = pid_r * BLOCK_R + tl.arange(0, BLOCK_R)
    offs_c = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)
    m = (offs_r < R)[:, None] & (offs_c < C)[None, :]
    v = tl.load(x_ptr + pid_b.to(tl.int64) * stride_xb + offs_r[:, None].to(tl.int64) * stride_xr + offs_c[None, :],
                mask=m)
    tl.store(y_ptr + pid_b.to(tl.int64) * stride_yb + offs_c[None, :].to(tl.int64) * R + offs_r[:, None], v, mask=m)


def transpose_last2(x: torch.Tensor) -> torch.Tensor:
    """A contiguous `[B, C, R]` copy of `x` `[B, R, C]` (x: unit last stride; any dtype).

    On the CPU (without Triton's interpreter) this is torch's copy; under the interpreter and on
    CUDA, the tiled kernel."""
    if x.dim() != 3 or x.stride(-1) != 1:
        raise ValueError(f"transpose_last2 needs a [B, R, C] tensor with unit last stride, got shape "
                         f"{tuple(x.shape)} strides {x.stride()}")
    Bsz, R, C = x.shape
    y = torch.empty(Bsz, C, R, dtype=x.dtype, device=x.device)
    if x.numel() == 0:
        return y
    if not runs_triton(x):
        return y.copy_(x.transpose(1, 2))
    BR, BC = 64, 64
    _transpose_kernel[(triton.cdiv(R, BR) * triton.cdiv(C, BC), Bsz)](
        x, y, R, C, x.stride(0), x.stride(1), y.stride(0), BLOCK_R=BR, BLOCK_C=BC, num_warps=4)
    return y


def to_channel_last(x: torch.Tensor) -> torch.Tensor:
    """`[B, D, L]` L-contiguous -> the same values as a channel-last view (`[B, L, D]` storage)."""
    return transpose_last2(x).transpose(1, 2)


def to_l_contiguous(x: torch.Tensor) -> torch.Tensor:
    """`[B, D, L]` channel-last view (`[B, L, D]` with unit D stride) -> an L-contiguous copy."""
    return transpose_last2(x.transpose(1, 2))


__all__ = ["to_channel_last", "to_l_contiguous", "transpose_last2"]
