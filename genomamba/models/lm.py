"""CharMambaLM: a character-level Mamba language model over DNA.

Token embedding -> n_layer pre-norm Mamba blocks -> final RMSNorm -> LM head tied to the
embedding (as in mamba_ssm's MambaLMHeadModel). A hybrid (`config.attn_layer_idx`, as mamba_ssm's)
has causal RoPE self-attention (`genomamba.modules.attention`) as the mixer of those blocks.
Saved as a model directory: config.json (model config, alphabet, training metadata) +
model.safetensors; loads on a CPU without Triton.
A per-layer state can be carried across calls, so long sequences are scored chunk by chunk.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from genomamba.models.base import CharLM
from genomamba.models.config import MambaConfig
from genomamba.modules import (
    BiMambaMixer,
    CausalSelfAttention,
    KVCache,
    MambaMixer,
    MixerState,
    ResidualBlock,
    RMSNorm,
)
from genomamba.modules.rcps import (
    RCPSEmbedding,
    RCPSLMHead,
    RCPSNorm,
    RCPSResidualBlock,
)

MODEL_TYPE = "char_mamba"


class CharMambaLM(CharLM):
    """tokens `[B, L]` (int) -> logits `[B, L, vocab]`. Causal (default): logits at t predict token
    t+1. Bidirectional (`config.bidirectional`): logits at t predict token t itself (masked LM).
    `config.rc_equivariant`: the RCPS layout of `genomamba.modules.rcps` (d_model / 2 per strand).
    `config.attn_layer_idx`: a causal hybrid, attention at those layers; their carried state is a
    `KVCache` (bounded by `config.attn_window` when set), the other layers' a `MixerState`."""

    model_type = MODEL_TYPE
    config_class = MambaConfig
    implicit_model_type = True  # directories written before the key existed

    def __init__(self, config: MambaConfig):
        super().__init__()
        self.config = config
        if config.rc_equivariant:
            strand = dataclasses.replace(config, d_model=config.d_model // 2, rc_equivariant=False)
            self.embedding = RCPSEmbedding(config.vocab_size, strand.d_model)
            self.layers = nn.ModuleList(
                RCPSResidualBlock(BiMambaMixer(strand), config.rms_norm_eps) for _ in range(config.n_layer)
            )
            self.norm_f = RCPSNorm(strand.d_model, config.rms_norm_eps)
            self.lm_head = RCPSLMHead(strand.d_model, config.vocab_size)
        else:
            self.embedding = nn.Embedding(config.vocab_size, config.d_model)
            self.layers = nn.ModuleList(
                ResidualBlock(self._mixer(config, i), config.rms_norm_eps) for i in range(config.n_layer)
            )
            self.norm_f = RMSNorm(config.d_model, config.rms_norm_eps)
            self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        if config.tie_embeddings:
            self.lm_head.weight = self.embedding.weight

    @staticmethod
    def _mixer(config: MambaConfig, i: int) -> nn.Module:
        """Layer i's mixer: attention at `attn_layer_idx`, else Mamba (one or both directions)."""
        if i in config.attn_layer_idx:
            return CausalSelfAttention(config.d_model, config.attn_num_heads, config.attn_window, config.attn_rope_base)
        return BiMambaMixer(config) if config.bidirectional else MambaMixer(config)

    def _init_weights(self, module: nn.Module) -> None:
        """GPT-2/Mamba init: N(0, 0.02) embeddings, each mixer's output projection (Mamba's out_proj,
        attention's proj) kaiming-uniform scaled by 1/sqrt(n_layer), as mamba_ssm does."""
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        elif isinstance(module, (MambaMixer, CausalSelfAttention)):
            out = module.out_proj if isinstance(module, MambaMixer) else module.proj
            nn.init.kaiming_uniform_(out.weight, a=math.sqrt(5))
            with torch.no_grad():
                out.weight /= math.sqrt(self.config.n_layer)

    @property
    def is_causal(self) -> bool:
        """True when logits at t depend only on tokens <= t (so they predict token t+1)."""
        return not self.config.bidirectional

    @property
    def _streams_fixed_state(self) -> bool:
        """A causal stack of Mamba blocks (no attention layer): its state is one fixed-size
        `MixerState` a layer."""
        return self.is_causal and not self.config.attn_layer_idx

    def allocate_state(self, batch: int, device=None) -> list[MixerState | KVCache]:
        return [layer.mixer.allocate_state(batch, device) for layer in self.layers]

