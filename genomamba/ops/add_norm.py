"""Residual add + RMSNorm with the residual stream in fp32: the reference and the dispatch.

Between Mamba blocks (mamba-ssm's fused add-norm with `residual_in_fp32=True`): r = x + residual in
fp32, y = rmsnorm(r) * weight in x's dtype; r goes on to the next block. `add_rms_norm_ref` is the
spec, torch only, and the math `x + mixer(norm(x))` blocks did before the fusion (an fp32 add, then
`F.rms_norm` in fp32), so CPU results are unchanged. `add_rms_norm` runs the fused Triton kernel
(`genomamba_kernels.add_rms_norm_triton`) on CUDA and the reference elsewhere;
GENOMAMBA_FUSED_ADD_NORM=0 (read once, at import) or `set_fused_add_norm(False)` keeps the reference
on CUDA too (benchmarks, bisecting).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from genomamba.ops.selective_scan import resolve_backend

_fused = os.environ.get("GENOMAMBA_FUSED_ADD_NORM", "1") != "0"


def set_fused_add_norm(enabled: bool) -> None:
    """Use the fused Triton kernel on CUDA (True, the default) or the reference everywhere (False)."""
    global _fused
    _fused = bool(enabled)


def fused_add_norm_enabled() -> bool:
    return _fused


def add_rms_norm_ref(
    x: torch.Tensor,
    residual: torch.Tensor | None,
    weight: torch.Tensor,
    eps: float = 1e-5,
    prenorm: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """y = rmsnorm(r) * weight with r = x + residual (fp32; r = x when residual is None).

    Args:
        x: `[..., N]`, any float dtype. residual: same shape (fp32) or None. weight: `[N]`.
        prenorm: also return r (the residual stream for the next block).

    Returns:
        y in x's dtype, and (prenorm) r in fp32.
    """
    r = x.float() if residual is None else x.float() + residual.float()
    y = F.rms_norm(r, (r.shape[-1],), weight.float(), eps).to(x.dtype)
    return (y, r) if prenorm else y


def add_rms_norm(
    x: torch.Tensor,
    residual: torch.Tensor | None,
    weight: torch.Tensor,
    eps: float = 1e-5,
    prenorm: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """`add_rms_norm_ref`'s function; the fused kernel where the backend is Triton (CUDA) and the
    fusion is on."""
    if _fused and resolve_backend("auto", x.device) == "triton":
        from genomamba_kernels import add_rms_norm_triton

        return add_rms_norm_triton(x, residual, weight, eps, prenorm)
    return add_rms_norm_ref(x, residual, weight, eps, prenorm)
