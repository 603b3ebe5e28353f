"""A whole pre-norm Mamba block as one op: residual add + RMSNorm -> in_proj -> the mixer interior
(`mamba_inner`) -> out_proj, over the fp32 residual stream.

`mamba_block_ref` composes the references (`add_rms_norm_ref`, `F.linear`, `mamba_inner_ref`) and
is the spec. `mamba_block` runs the block's autograd function (`genomamba_kernels.mamba_block_triton`,
which saves only the residual stream and recomputes normed and xz in backward: about a third of the
training memory of the composed ops) where the backend is Triton and the add-norm fusion is on, and
otherwise composes the dispatching ops (`add_rms_norm`, `F.linear`, `mamba_inner`), which is what a
block ran before. GENOMAMBA_FUSED_BLOCK=0 (read once, at import) or `set_fused_block(False)` keeps
the composition on CUDA too (benchmarks, bisecting).
"""

from __future__ import annotations

import os

import torch.nn.functional as F

from genomamba.ops.add_norm import add_rms_norm, add_rms_norm_ref, fused_add_norm_enabled
from genomamba.ops.mamba_inner import _needs_grad, mamba_inner, mamba_inner_ref
from genomamba.ops.selective_scan import resolve_backend

_fused = os.environ.get("GENOMAMBA_FUSED_BLOCK", "1") != "0"


def set_fused_block(enabled: bool) -> None:
    """Use the block's fused autograd function on Triton (True, the default) or compose the ops (False)."""
    global _fused
    _fused = bool(enabled)


def fused_block_enabled() -> bool:
    return _fused


def mamba_block_ref(hidden, residual, norm_weight, eps, in_proj_weight, *inner, conv_state=None, ssm_state=None,
                    backend: str = "ref", seq_idx=None):
    """(out, r, conv state, ssm state): r = hidden + residual (fp32), out = mamba_inner(in_proj(rmsnorm(r))).

    Args:
        hidden: `[B, L, d_model]`; residual: `[B, L, d_model]` fp32 or None. norm_weight: `[d_model]`.
        in_proj_weight: `[2 Di, d_model]`. inner: `mamba_inner_ref`'s arguments after xz (conv_weight,
            conv_bias, x_proj_weight, dt_proj_weight, dt_bias, A, D, out_proj_weight, dt_rank, d_state).
        backend: the interior's ops' backend.
    """
    normed, r = add_rms_norm_ref(hidden, residual, norm_weight, eps, prenorm=True)
    out, conv, ssm = mamba_inner_ref(F.linear(normed, in_proj_weight), *inner, conv_state, ssm_state, backend=backend,
                                     seq_idx=seq_idx)
    return out, r, conv, ssm


def mamba_block(hidden, residual, norm_weight, eps, in_proj_weight, *inner, conv_state=None, ssm_state=None,
                backend: str = "auto", seq_idx=None):
    """`mamba_block_ref`'s function: the fused autograd function on Triton (carried states that need no
    gradient), else the composed dispatching ops."""
    name = resolve_backend(backend, hidden.device)
    if name == "triton" and _fused and fused_add_norm_enabled() and not _needs_grad(conv_state, ssm_state):
        from genomamba_kernels import mamba_block_triton

        return mamba_block_triton(hidden, residual, norm_weight, eps, in_proj_weight, *inner, conv_state, ssm_state,
                                  seq_idx)
    normed, r = add_rms_norm(hidden, residual, norm_weight, eps, prenorm=True)
    out, conv, ssm = mamba_inner(F.linear(normed, in_proj_weight), *inner, conv_state, ssm_state, backend=name,
                                 seq_idx=seq_idx)
    return out, r, conv, ssm


