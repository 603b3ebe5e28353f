"""Tiny random models for the generation tests."""

from __future__ import annotations

import torch

from genomamba.models import CharMambaLM, MambaConfig, TransformerConfig, TransformerLM


def tiny_mamba(seed: int = 0, **kw) -> CharMambaLM:
    torch.manual_seed(seed)
    return CharMambaLM(MambaConfig(**{"d_model": 16, "n_layer": 2, "d_state": 8, "scan_backend": "torch", **kw})).eval()


def tiny_transformer(seed: int = 0, **kw) -> TransformerLM:
    torch.manual_seed(seed)
    return TransformerLM(TransformerConfig(**{"d_model": 16, "n_layer": 2, "n_head": 2, **kw})).eval()


def tiny_hybrid(seed: int = 0, **kw) -> CharMambaLM:
    """Attention, then a Mamba block, then windowed attention (`MambaConfig.attn_layer_idx`)."""
    return tiny_mamba(seed, n_layer=3, attn_layer_idx=[0, 2], attn_num_heads=2, attn_window=5, **kw)


MODELS = {
    "mamba": tiny_mamba,
    "transformer": tiny_transformer,
    "transformer_window": lambda **kw: tiny_transformer(context_window=5, **kw),
    "hybrid": tiny_hybrid,
}
