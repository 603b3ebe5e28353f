"""CharMambaLM: a character-level Mamba language model over DNA.

Token embedding -> n_layer pre-norm Mamba blocks -> final RMSNorm -> LM head tied to the
embedding (as in mamba_ssm's MambaLMHeadModel). Saved as a model directory: config.json
(model config, alphabet, training metadata) + model.safetensors; loads on a CPU without Triton.
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
    `config.rc_equivariant`: the RCPS layout of `genomamba.modules.rcps` (d_model / 2 per strand)."""

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
            mixer = BiMambaMixer if config.bidirectional else MambaMixer
            self.layers = nn.ModuleList(
                ResidualBlock(mixer(config), config.rms_norm_eps)
                for _ in range(config.n_layer)
            )
            self.norm_f = RMSNorm(config.d_model, config.rms_norm_eps)
            self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        if config.tie_embeddings:
            self.lm_head.weight = self.embedding.weight

    def _init_weights(self, module: nn.Module) -> None:
        """GPT-2/Mamba init: N(0, 0.02) embeddings, out_proj scaled by 1/sqrt(n_layer)."""
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        elif isinstance(module, MambaMixer):
            nn.init.kaiming_uniform_(module.out_proj.weight, a=math.sqrt(5))
            with torch.no_grad():
                module.out_proj.weight /= math.sqrt(self.config.n_layer)

    @property
    def is_causal(self) -> bool:
        """True when logits at t depend only on tokens <= t (so they predict token t+1)."""
        return not self.config.bidirectional

    def allocate_state(self, batch: int, device=None) -> list[MixerState]:
        return [layer.mixer.allocate_state(batch, device) for layer in self.layers]

