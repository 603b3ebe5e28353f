"""A whole Mamba block as one autograd function: residual add + RMSNorm -> in_proj -> mixer interior
-> out_proj, saving only the fp32 residual stream for backward.

Forward: r = hidden + residual (fp32), normed = rmsnorm(r) * w (the fused add-norm kernel), xz =
normed @ in_proj^T, then the mixer interior (`genomamba_kernels.mamba_inner.inner_forward`). Saved:
r (which the stack keeps anyway, as the next block's residual input), the per-row rstd, x_proj's small
output and the scan's chunk-start states; not xz (2 d_inner values a token) nor normed (d_model):
the backward recomputes normed from r (the same kernel, bit for bit) and xz with one GEMM, cheap
against the scan. About 1.1 KB a token a layer saved at d_model 256 in place of 3.6 KB. Imports
torch and triton only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from genomamba_kernels.layer_norm import _add_rms_norm_bwd, _add_rms_norm_fwd, _add_rms_norm_fwd_rows, _rows
from genomamba_kernels.mamba_inner import InnerSaved, inner_backward, inner_forward


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """in_proj's dtype: autocast's where autocast is on (as `F.linear` would cast), else x's."""
    kind = x.device.type
    return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else x.dtype


class MambaBlockFn(torch.autograd.Function):
    """Autograd of `mamba_block_triton`. The carried states (in and out) get no gradient."""

    @staticmethod
    def forward(ctx, hidden, residual, norm_w, eps, in_proj_w, conv_w, conv_b, x_proj_w, dt_proj_w, dt_bias, A, D,
                out_proj_w, conv_state, ssm_state, dt_rank, d_state, seq_idx):
        shape = hidden.shape
        w = norm_w.contiguous()
        normed, r, rstd = _add_rms_norm_fwd_rows(hidden, residual, w, eps, True)
        cdt = _compute_dtype(hidden)
        xz = F.linear(normed.view(shape).to(cdt), in_proj_w.to(cdt))
        del normed
        out, conv_out, final, saved, plan = inner_forward(xz, conv_w, conv_b, x_proj_w, dt_proj_w, dt_bias, A, D,
                                                          out_proj_w, conv_state, ssm_state, dt_rank, d_state,
                                                          seq_idx)
        ctx.save_for_backward(r, rstd, w, in_proj_w, *saved)
        ctx.meta = (shape, hidden.dtype, None if residual is None else residual.dtype, norm_w.dtype, eps, cdt,
                    dt_rank, d_state, conv_w.shape, plan)
        ctx.mark_non_differentiable(conv_out, final)
        ctx.set_materialize_grads(False)
        return out, r.view(shape), conv_out, final

    @staticmethod
    def backward(ctx, dout, dr_out, _dconv_state, _dssm_state):
        r, rstd, w, in_proj_w, *saved = ctx.saved_tensors
        shape, x_dtype, res_dtype, w_dtype, eps, cdt, dt_rank, d_state, conv_shape, plan = ctx.meta
        normed, _, _ = _add_rms_norm_fwd(r, None, w, eps, False, out_dtype=x_dtype)  # as the forward wrote it
        normed = normed.view(shape).to(cdt)
        w_in = in_proj_w.to(cdt)
        xz = F.linear(normed, w_in)
        if dout is None:
            dout = torch.zeros(shape, dtype=cdt, device=r.device)
        dxz, dw, db, *grads = inner_backward(xz, InnerSaved(*saved), dout, dt_rank, d_state, plan)
        del xz
        d_in_w = (dxz.flatten(0, 1).t() @ normed.flatten(0, 1)).to(in_proj_w.dtype)
        d_normed = dxz @ w_in
        del dxz, normed
        dro = None if dr_out is None else _rows(dr_out)
        dx, dres, dnw = _add_rms_norm_bwd(r, w, rstd, _rows(d_normed), dro, x_dtype, res_dtype)
        return (dx.view(shape), None if dres is None else dres.view(shape), dnw.to(w_dtype), None, d_in_w,
                dw.reshape(conv_shape), db, *grads, None, None, None, None, None)


def mamba_block_triton(
    hidden: torch.Tensor,
    residual: torch.Tensor | None,
    norm_weight: torch.Tensor,
    eps: float,
    in_proj_weight: torch.Tensor,
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
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One pre-norm Mamba block: (mixer output, r, conv state, ssm state) with r = hidden + residual.

    Args:
        hidden: `[B, L, d_model]`, the previous block's output (or the embedding, with residual None).
        residual: `[B, L, d_model]` fp32, the running residual stream, or None (r = hidden).
        norm_weight: `[d_model]`; eps: the RMSNorm's. in_proj_weight: `[2 Di, d_model]` (no bias).
        The rest as `genomamba_kernels.mamba_inner_triton` takes them.

    Returns:
        out `[B, L, d_model]` in in_proj's compute dtype (autocast's, else hidden's), r fp32, the conv
        state `[B, Di, K-1]` and the fp32 ssm state `[B, Di, N]` after the last position (no gradient
        flows through the states). Gradients reach hidden, residual and every weight.
    """
    if residual is not None and residual.shape != hidden.shape:
        raise ValueError(f"mamba_block_triton: residual shape {tuple(residual.shape)} != hidden shape "
                         f"{tuple(hidden.shape)}")
    return MambaBlockFn.apply(hidden, residual, norm_weight, eps, in_proj_weight, conv_weight, conv_bias,
                              x_proj_weight, dt_proj_weight, dt_bias, A, D, out_proj_weight, conv_state, ssm_state,
                              dt_rank, d_state, seq_idx)
