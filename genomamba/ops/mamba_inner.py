"""The Mamba mixer between in_proj and out_proj as one op: conv1d + SiLU -> x_proj -> dt_proj ->
selective scan -> out_proj, over channel-last activations (mamba-ssm's `mamba_inner_fn`).

`mamba_inner_ref` composes the ops (`causal_conv1d`, `selective_scan`) and is the spec;
`mamba_inner` runs the fused Triton function (`genomamba_kernels.mamba_inner_triton`: little saved
for backward, the conv output and delta recomputed) where the scan backend is Triton, and on the
numba backend, when no gradient is needed, the channel-last inference kernels
(`genomamba.ops.mamba_inner_numba`: no transposes or copies between the matmuls). Setting
GENOMAMBA_NUMBA_MIXER=0 turns the latter off (the composed path; for benchmarks).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from genomamba.ops.causal_conv1d import causal_conv1d
from genomamba.ops.selective_scan import resolve_backend, selective_scan


def mamba_inner_ref(
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
    backend: str = "ref",
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """out = out_proj(scan(silu(conv(x)), delta, A, B, C, D, z)) with xz = [x, z].

    Args:
        xz: `[B, L, 2 Di]` (in_proj's output: x half, then the gate z). conv_weight: `[Di, 1, K]`.
        x_proj_weight: `[R + 2N, Di]`; dt_proj_weight: `[Di, R]`; dt_bias, D: `[Di]`; A: `[Di, N]`;
        out_proj_weight: `[d_model, Di]`. conv_state `[B, Di, K-1]`, ssm_state `[B, Di, N]`: carried.
        backend: the ops' backend ("ref" is the spec).
        seq_idx: `[B, L]` int, packed sequences: the conv and the scan restart from zero at every change
            (the carried states belong to the sequence at position 0; see `genomamba.ops.causal_conv1d`).

    Returns:
        out `[B, L, d_model]`, conv state `[B, Di, K-1]` and ssm state `[B, Di, N]` (fp32) after L.
    """
    Di = xz.shape[-1] // 2
    xs, z = xz[..., :Di], xz[..., Di:]  # views
    xc, conv_out = causal_conv1d(xs, conv_weight, conv_bias, conv_state, "silu", return_final_state=True,
                                 backend=backend, seq_idx=seq_idx)
    x_dbl = F.linear(xc, x_proj_weight)  # (B, L, R + 2N)
    dt, Bm, Cm = torch.split(x_dbl, [dt_rank, d_state, d_state], dim=-1)
    delta = F.linear(dt, dt_proj_weight)  # (B, L, Di); the bias goes in as delta_bias
    y, ssm_out = selective_scan(
        xc.transpose(1, 2), delta.transpose(1, 2), A, Bm.transpose(1, 2), Cm.transpose(1, 2), D,
        z=z.transpose(1, 2), delta_bias=dt_bias, delta_softplus=True, initial_state=ssm_state,
        return_final_state=True, seq_idx=seq_idx, backend=backend,
    )
    return F.linear(y.transpose(1, 2), out_proj_weight), conv_out, ssm_out


def _needs_grad(*tensors: torch.Tensor | None) -> bool:
    """Autograd would record a call on these: grad mode is on and one of them requires grad."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def mamba_inner(
    xz: torch.Tensor,
    conv_weight: torch.Tensor,
    conv_bias: torch.Tensor,
    x_proj_weight: torch.Tensor,
    dt_proj_weight: torch.Tensor,
    dt_bias: torch.Tensor,
    A: torch.Tensor,
    D: torch.Tensor,
    out_proj_weight: torch.Tensor,
    dt_rank: int,
    d_state: int,
    conv_state: torch.Tensor | None = None,
    ssm_state: torch.Tensor | None = None,
    backend: str = "auto",
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`mamba_inner_ref`'s function, fused on the Triton backend. The fused function gives the carried
    states no gradient, so a call that needs one (grad enabled and a state requiring grad) composes.
    On the numba backend a call that needs no gradient at all (grad disabled, or no input requiring
    grad: scoring, prefill, embeddings) runs `mamba_inner_numba_inference`; training composes."""
    name = resolve_backend(backend, xz.device)
    states_need_grad = _needs_grad(conv_state, ssm_state)
    if (name == "numba" and xz.device.type == "cpu" and os.environ.get("GENOMAMBA_NUMBA_MIXER", "1") != "0"
            and not _needs_grad(xz, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, dt_bias, A, D,
                                out_proj_weight, conv_state, ssm_state)):
        from genomamba.ops.mamba_inner_numba import mamba_inner_numba_inference

        return mamba_inner_numba_inference(xz, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, dt_bias, A,
                                           D, out_proj_weight, dt_rank, d_state, conv_state, ssm_state, seq_idx)
    if name == "triton" and not states_need_grad:
        from genomamba_kernels import mamba_inner_triton

        return mamba_inner_triton(xz, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, dt_bias, A, D,
                                  out_proj_weight, dt_rank, d_state, conv_state, ssm_state, seq_idx)
    return mamba_inner_ref(xz, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, dt_bias, A, D,
                           out_proj_weight, dt_rank, d_state, conv_state, ssm_state, backend=name, seq_idx=seq_idx)
