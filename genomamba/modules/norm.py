"""RMSNorm (Zhang & Sennrich 2019), the norm Mamba blocks use, with mamba-ssm's fused residual add."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genomamba.ops.add_norm import add_rms_norm


class RMSNorm(nn.Module):
    """x / rms(x) * weight over the last dim; x: `[..., d_model]`. Computed in fp32."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None, prenorm: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """norm(x) in x's dtype. With a residual or prenorm: norm(r) for r = x + residual, the fp32
        residual stream, through `genomamba.ops.add_norm.add_rms_norm` (fused on CUDA); prenorm
        also returns r."""
        if residual is None and not prenorm:
            return F.rms_norm(x.float(), (x.shape[-1],), self.weight.float(), self.eps).to(x.dtype)
        return add_rms_norm(x, residual, self.weight, self.eps, prenorm)
