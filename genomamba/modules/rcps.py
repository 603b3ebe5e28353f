"""Reverse-complement parameter sharing (RCPS, as in Caduceus-PS: Schiff et al. 2024, arXiv:2403.03234).

A hidden `[B, L, D]` holds two strands of D/2 channels: the forward strand's, and the reverse
complement's flipped back onto forward coordinates with its channels reversed. On that layout the
reverse complement of a hidden is `rc_flip(h)` (flip along L and channels: the halves swap), and
every module here satisfies f(rc(x)) = rc_flip(f(x)) exactly, because each strand goes through the
same weights. Stacked as embedding -> blocks -> norm -> head, logits for rc(x) are the L-flipped,
complement-permuted logits for x. Same parameter count as the plain model, twice the compute.
"""

from __future__ import annotations

import torch
from torch import nn

from genomamba.alphabet import COMPLEMENT
from genomamba.modules.block import ResidualBlock
from genomamba.modules.norm import RMSNorm

__all__ = ["RCPSEmbedding", "RCPSLMHead", "RCPSNorm", "RCPSResidualBlock", "complement_index", "rc_flip"]


def rc_flip(h: torch.Tensor) -> torch.Tensor:
    """The reverse complement of an RCPS hidden `[B, L, D]`: flip along L and channels."""
    return h.flip(-2, -1)


def complement_index(vocab_size: int) -> torch.Tensor:
    """Token -> complement token `[vocab_size]`: the alphabet's COMPLEMENT, padding ids map to themselves."""
    index = torch.arange(vocab_size)
    index[: len(COMPLEMENT)] = torch.as_tensor(COMPLEMENT)
    return index


def _per_strand(module: nn.Module, h: torch.Tensor, *args) -> torch.Tensor:
    """Apply `module` to the forward half and to the reverse-complemented other half (one call, on a
    batch of 2B), and put the results back in RCPS layout."""
    d = h.shape[-1] // 2
    both = module(torch.cat([h[..., :d], rc_flip(h[..., d:])], dim=0), *args)
    if isinstance(both, tuple):  # a block's (x, state); a bidirectional block carries no state
        both = both[0]
    fwd, rev = both.chunk(2, dim=0)
    return torch.cat([fwd, rc_flip(rev)], dim=-1)


class RCPSEmbedding(nn.Embedding):
    """tokens `[B, L]` -> `[B, L, 2 * embedding_dim]`: [e(x), rc_flip(e(rc(x)))], one shared table."""

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__(num_embeddings, embedding_dim)
        self.register_buffer("complement", complement_index(num_embeddings), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        rc_tokens = self.complement[tokens].flip(-1)
        return torch.cat([super().forward(tokens), rc_flip(super().forward(rc_tokens))], dim=-1)


class RCPSResidualBlock(ResidualBlock):
    """A `ResidualBlock` on `[B, L, 2 * d_model]`: the same norm + mixer on both strands, x + mixer(norm(x))."""

    residual_stream = False

    def forward(self, x: torch.Tensor, state: None = None, seq_idx: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        """seq_idx `[B, L]`: packed sequences; the reverse strand runs L-flipped, so it takes seq_idx flipped."""
        if seq_idx is None:
            return _per_strand(self._add_mixed, x, state), None
        return _per_strand(self._add_mixed, x, state, torch.cat([seq_idx, seq_idx.flip(-1)], dim=0)), None

    def _add_mixed(self, x: torch.Tensor, state: None, seq_idx: torch.Tensor | None = None) -> torch.Tensor:
        out, residual, _ = super().forward(x, None, state, seq_idx)
        return (residual + out).to(x.dtype)  # the stream stays in x's dtype, as x + out before the fusion


class RCPSNorm(RMSNorm):
    """`RMSNorm` over each strand's d_model channels (one weight), on `[B, L, 2 * d_model]`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _per_strand(super().forward, x)


class RCPSLMHead(nn.Linear):
    """`[B, L, 2 * in_features]` -> logits `[B, L, vocab]`: the forward strand through the weight, plus
    the reverse strand (channels put back in order) through the complement-permuted weight, so that a
    reverse-complemented hidden gives L-flipped, complement-permuted logits. Tied to the embedding as usual."""

    def __init__(self, in_features: int, vocab_size: int):
        super().__init__(in_features, vocab_size, bias=False)
        self.register_buffer("complement", complement_index(vocab_size), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.in_features
        return x[..., :d] @ self.weight.t() + x[..., d:].flip(-1) @ self.weight[self.complement].t()
