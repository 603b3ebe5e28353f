"""TransformerLM: a causal decoder-only transformer over the same DNA vocabulary as CharMambaLM.

The baseline for the Mamba-vs-attention comparison (issue 13): token embedding -> n_layer pre-norm
blocks (RMSNorm -> multi-head attention with rotary position embeddings (`genomamba.modules.attention`,
shared with the hybrid CharMambaLM) -> RMSNorm -> SwiGLU MLP) -> final RMSNorm -> LM head tied to
the embedding. Layout as in litgpt/nanoGPT `model.py`.

The MLP is SwiGLU (Shazeer 2020, arXiv:2002.05202; LLaMA, litgpt): at the same parameter count as
a GELU MLP it reaches a lower loss, so the baseline is a modern transformer, not a straw man.
Its hidden width defaults to 8/3 d_model rounded up to a multiple of 64 (the parameters of a 4x
GELU MLP).

Streaming: the state carried between chunks is a KV cache per layer (`KVCache`), so memory grows
with the tokens seen: 2 * n_layer * d_model values per base (8 KiB per base at d 256, 8 layers,
bf16), against a Mamba state that does not grow. With `TransformerConfig.context_window = W`
every position attends to the last W positions only (itself included), in one pass and in
streaming alike, and the cache keeps the last W - 1 positions: bounded memory, same results.
Saved as a model directory (config.json + model.safetensors) like CharMambaLM; loads on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from genomamba.alphabet import VOCAB_SIZE
from genomamba.errors import ConfigError
from genomamba.models.config import ConfigDictMixin
from genomamba.models.base import CharLM
from genomamba.modules import RMSNorm
from genomamba.modules.attention import CausalSelfAttention, KVCache

MODEL_TYPE = "transformer"


@dataclass
class TransformerConfig(ConfigDictMixin):
    """Shape of a TransformerLM. Derived fields are filled in `__post_init__`."""

    d_model: int = 128
    n_layer: int = 4
    n_head: int = 4  # head_dim = d_model / n_head
    d_ff: int | None = None  # SwiGLU hidden width; None -> 8/3 d_model rounded up to a multiple of 64
    rope_base: float = 10000.0
    # None: full causal attention (the KV cache grows with the sequence). W: each position attends
    # to the last W positions in every layer (sliding window; the receptive field is then
    # n_layer * (W - 1) + 1), so the cache holds W - 1 positions per layer at most
    context_window: int | None = None
    vocab_size: int = VOCAB_SIZE  # padded up to a multiple of pad_vocab_multiple
    pad_vocab_multiple: int = 8
    rms_norm_eps: float = 1e-5
    tie_embeddings: bool = True
    head_dim: int = field(init=False)

    def __post_init__(self) -> None:
        for key in ("d_model", "n_layer", "n_head", "vocab_size", "pad_vocab_multiple"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"TransformerConfig.{key} must be a positive integer, got {value!r}")
        if self.d_model % self.n_head:
            raise ConfigError(f"TransformerConfig.d_model ({self.d_model}) must be a multiple of n_head ({self.n_head})")
        self.head_dim = self.d_model // self.n_head
        if self.head_dim % 2:
            raise ConfigError(f"TransformerConfig: head_dim d_model/n_head = {self.head_dim} must be even (RoPE)")
        if self.d_ff is None:
            self.d_ff = -(-(8 * self.d_model) // (3 * 64)) * 64
        elif not isinstance(self.d_ff, int) or self.d_ff < 1:
            raise ConfigError(f"TransformerConfig.d_ff must be a positive integer or null, got {self.d_ff!r}")
        if self.context_window is not None and (not isinstance(self.context_window, int) or self.context_window < 1):
            raise ConfigError(f"TransformerConfig.context_window must be a positive integer or null, got {self.context_window!r}")
        if not self.rope_base > 1:
            raise ConfigError(f"TransformerConfig.rope_base must be > 1, got {self.rope_base!r}")
        if self.vocab_size < VOCAB_SIZE:
            raise ConfigError(f"TransformerConfig.vocab_size must be >= {VOCAB_SIZE} (the alphabet), got {self.vocab_size}")
        self.vocab_size = -(-self.vocab_size // self.pad_vocab_multiple) * self.pad_vocab_multiple


class SwiGLU(nn.Module):
    """x: `[..., d_model]` -> w_out(silu(w_gate x) * w_up x)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.w_gate = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.w_up = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.w_out = nn.Linear(config.d_ff, config.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_out(F.silu(self.w_gate(x)) * self.w_up(x))


class TransformerBlock(nn.Module):
    """Pre-norm: x + attn(norm(x)), then x + mlp(norm(x)); the cache passes through."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model, config.rms_norm_eps)
        self.attn = CausalSelfAttention(config.d_model, config.n_head, config.context_window, config.rope_base)
        self.mlp_norm = RMSNorm(config.d_model, config.rms_norm_eps)
        self.mlp = SwiGLU(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None,
                seq_idx: torch.Tensor | None = None) -> tuple[torch.Tensor, KVCache]:
        a, cache = self.attn(self.attn_norm(x), cache, seq_idx)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), cache


class TransformerLM(CharLM):
    """tokens `[B, L]` (int) -> logits `[B, L, vocab]`; logits at t predict token t+1.

    The interface of CharMambaLM (`forward(tokens, state, return_state)`, `hidden_states`,
    `lm_head`, `allocate_state`, `is_causal`, `num_parameters`, `save_pretrained` /
    `from_pretrained`), so the LightningModule trains it and `genomamba-score` scores it unchanged.
    """

    model_type = MODEL_TYPE
    config_class = TransformerConfig
    is_causal = True
    packed_scoring = False  # its seq_idx mask is a dense [L, L] per row: scoring rows of chunk bases pad instead

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.layers = nn.ModuleList(TransformerBlock(config) for _ in range(config.n_layer))
        self.norm_f = RMSNorm(config.d_model, config.rms_norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        if config.tie_embeddings:
            self.lm_head.weight = self.embedding.weight

    def _init_weights(self, module: nn.Module) -> None:
        """GPT-2 init: N(0, 0.02), residual output projections scaled by 1/sqrt(2 n_layer)."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, (CausalSelfAttention, SwiGLU)):
            out = module.proj if isinstance(module, CausalSelfAttention) else module.w_out
            nn.init.normal_(out.weight, std=0.02 / math.sqrt(2 * self.config.n_layer))

    @property
    def context_length(self) -> int | None:
        """The attention window when there is one (the default VCF scoring window), else None."""
        return self.config.context_window

    def allocate_state(self, batch: int, device=None, dtype: torch.dtype | None = None) -> list[KVCache]:
        """An empty KV cache per layer (no positions seen); it grows as chunks go through."""
        return [layer.attn.allocate_state(batch, device, dtype) for layer in self.layers]
