"""Pre-norm residual block: x + mixer(norm(x)), as in mamba_ssm's Block."""

from __future__ import annotations

import torch
from torch import nn

from genomamba.modules.mamba import MambaMixer, MixerState
from genomamba.modules.norm import RMSNorm


class ResidualBlock(nn.Module):
    """x: `[B, L, d_model]` -> same; the mixer state passes through unchanged in meaning."""

    def __init__(self, mixer: MambaMixer, eps: float = 1e-5):
        super().__init__()
        self.norm = RMSNorm(mixer.d_model, eps)
        self.mixer = mixer

    def forward(self, x: torch.Tensor, state: MixerState | None = None,
                seq_idx: torch.Tensor | None = None) -> tuple[torch.Tensor, MixerState]:
        """seq_idx `[B, L]` int: packed sequences, passed to the mixer."""
        out, state = self.mixer(self.norm(x), state, seq_idx)
        return x + out, state
