"""One decoding step of the Mamba mixer interior with in-place state updates: the reference and the dispatch.

`mamba_step_ref` is the spec (torch only) and the CPU path; `mamba_step` runs the fused Triton
kernel (`genomamba_kernels.mamba_step_triton`) where the scan backend resolves to Triton. Both
write the new conv and SSM states into the tensors passed in, so a decode loop keeps fixed
buffers (a CUDA graph replays against their addresses) and memory does not grow with length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genomamba.ops.selective_scan import resolve_backend


def mamba_step_ref(
    xz: torch.Tensor,
    conv_state: torch.Tensor,
    ssm_state: torch.Tensor,
    conv_weight: torch.Tensor,
    conv_bias: torch.Tensor | None,
    x_proj_weight: torch.Tensor,
    dt_proj_weight: torch.Tensor,
    dt_bias: torch.Tensor | None,
    A_log: torch.Tensor,
    D: torch.Tensor | None,
    dt_rank: int,
    d_state: int,
) -> torch.Tensor:
    """The mixer between in_proj and out_proj for one new position, states updated in place.

    xc = silu(conv(conv_state, x)); dt, B, C = x_proj(xc); dt = softplus(dt_proj(dt) + dt_bias);
    h = exp(dt A) h + dt B xc with A = -exp(A_log); y = (C h + D xc) silu(z). The dtypes follow
    `mamba_inner_ref` (conv and projections in xz's dtype, the SSM in fp32), so the step gives the
    parallel forward's values.

    Args:
        xz: `[B, 2 Di]` (x, then the gate z). conv_state: `[B, Di, K-1]`; ssm_state: `[B, Di, N]` fp32.
        conv_weight: `[Di, 1, K]` or `[Di, K]`; x_proj_weight: `[R + 2N, Di]`; dt_proj_weight: `[Di, R]`;
        A_log: `[Di, N]`; conv_bias, dt_bias, D: `[Di]`.

    Returns:
        y `[B, Di]` in xz's dtype.
    """
    Di = xz.shape[-1] // 2
    x, z = xz[:, :Di], xz[:, Di:]
    w = conv_weight.reshape(Di, -1).float()
    window = torch.cat([conv_state.float(), x.float()[:, :, None]], dim=-1)  # (B, Di, K)
    pre = (window * w).sum(-1)
    if conv_bias is not None:
        pre = pre + conv_bias.float()
    xc = F.silu(pre).to(xz.dtype)
    conv_state.copy_(window[:, :, 1:])
    dt, Bm, Cm = torch.split(F.linear(xc, x_proj_weight), [dt_rank, d_state, d_state], dim=-1)
    delta = F.linear(dt, dt_proj_weight).float()
    if dt_bias is not None:
        delta = delta + dt_bias.float()
    delta = F.softplus(delta)  # (B, Di)
    xf = xc.float()
    dA = torch.exp(delta[:, :, None] * -torch.exp(A_log.float()))
    ssm_state.mul_(dA).add_((delta * xf)[:, :, None] * Bm.float()[:, None, :])
    y = torch.einsum("bdn,bn->bd", ssm_state, Cm.float())
    if D is not None:
        y = y + xf * D.float()
    return (y * F.silu(z.float())).to(xz.dtype)


def mamba_step(
    xz: torch.Tensor,
    conv_state: torch.Tensor,
    ssm_state: torch.Tensor,
    conv_weight: torch.Tensor,
    conv_bias: torch.Tensor | None,
    x_proj_weight: torch.Tensor,
    dt_proj_weight: torch.Tensor,
    dt_bias: torch.Tensor | None,
    A_log: torch.Tensor,
    D: torch.Tensor | None,
    dt_rank: int,
    d_state: int,
    backend: str = "auto",
) -> torch.Tensor:
    """`mamba_step_ref`'s step; the fused kernel where `backend` resolves to "triton", else the reference."""
    args = (xz, conv_state, ssm_state, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, dt_bias, A_log, D,
            dt_rank, d_state)
    if resolve_backend(backend, xz.device) == "triton":
        from genomamba_kernels import mamba_step_triton

        return mamba_step_triton(*args)
    return mamba_step_ref(*args)

