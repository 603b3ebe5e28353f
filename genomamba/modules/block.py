"""Pre-norm residual block over an fp32 residual stream, as mamba_ssm's Block with fused add-norm."""

from __future__ import annotations

import torch
from torch import nn

from genomamba.modules.mamba import MambaMixer, MixerState
from genomamba.modules.norm import RMSNorm


class ResidualBlock(nn.Module):
    """(hidden, residual) -> (mixer(norm(r)), r) with r = hidden + residual, added and normed in one
    fused op (`RMSNorm` with a residual); r is fp32. Stacked, the running sum of the embedding and
    every mixer's output is the same as x + mixer(norm(x)) block after block. A Mamba mixer runs the
    norm with itself (`MambaMixer.forward_block`: on Triton one autograd function saving only r)."""

    residual_stream = True  # CharLM.hidden_states passes (hidden, residual, state) through it

    def __init__(self, mixer: MambaMixer, eps: float = 1e-5):
        super().__init__()
        self.norm = RMSNorm(mixer.d_model, eps)
        self.mixer = mixer

    def forward(
        self, hidden: torch.Tensor, residual: torch.Tensor | None = None, state: MixerState | None = None,
        seq_idx: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, MixerState]:
        """hidden `[B, L, d_model]` (the previous mixer's output, or the embedding with residual None);
        returns this mixer's output, the residual stream r `[B, L, d_model]` fp32 and the mixer state.
        seq_idx `[B, L]` int: packed sequences, passed to the mixer."""
        if isinstance(self.mixer, MambaMixer):  # one op with the norm (`MambaMixer.forward_block`)
            return self.mixer.forward_block(hidden, residual, self.norm, state, seq_idx)
        normed, residual = self.norm(hidden, residual, prenorm=True)
        out, state = self.mixer(normed, state, seq_idx)
        return out, residual, state
