"""TransformerLM: a causal decoder-only transformer over the same DNA vocabulary as CharMambaLM.

The baseline for the Mamba-vs-attention comparison (issue 13): token embedding -> n_layer pre-norm
blocks (RMSNorm -> multi-head attention with rotary position embeddings (Su et al. 2021,
arXiv:2104.09864) through `torch.nn.functional.scaled_dot_product_attention` (flash / memory-
efficient kernels where the device has them) -> RMSNorm -> SwiGLU MLP) -> final RMSNorm -> LM head
tied to the embedding. Layout as in litgpt/nanoGPT `model.py`, all of it in this file.

The MLP is SwiGLU (Shazeer 2020, arXiv:2002.05202; LLaMA, litgpt): at the same parameter count as
a GELU MLP it reaches a lower loss, so the baseline is a modern transformer, not a straw man.
Its hidden width defaults to 8/3 d_model rounded up to a multiple of 64 (the parameters of a 4x
GELU MLP).

Streaming: the state carried between chunks is a KV cache per layer (`KVCache`), so memory grows
with the tokens seen: 2 * n_layer * d_model values per base (8 KiB per base at d 256, 8 layers,
bf16), against a Mamba state that does not grow. With `TransformerConfig.context_window = W`
every position attends to the last W positions only (itself included), in one pass and in
streaming alike, and the cache keeps the last W - 1 positions: bounded memory, same results
(a windowed call on L > W tokens builds an explicit `[L, T + L]` mask, so it is for streaming
and moderate L; full attention uses SDPA's causal kernels with no mask). RoPE angles are fp32,
exact in position up to 2^24 bases.
Saved as a model directory (config.json + model.safetensors) like CharMambaLM; loads on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.bias import causal_lower_right

from genomamba.alphabet import VOCAB_SIZE
from genomamba.errors import ConfigError
from genomamba.models.config import ConfigDictMixin
from genomamba.models.base import CharLM
from genomamba.modules import RMSNorm

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


class KVCache(NamedTuple):
    """One layer's carried state: keys (after RoPE) and values of the positions seen so far."""

    k: torch.Tensor  # (B, n_head, T, head_dim)
    v: torch.Tensor  # (B, n_head, T, head_dim)
    offset: int  # absolute position of the next token (T <= offset; T < offset once a window drops keys)


def rope(x: torch.Tensor, offset: int, base: float) -> torch.Tensor:
    """Rotate pairs (x[..., :d/2], x[..., d/2:]) of x `[B, H, L, d]` by position * base^(-2i/d),
    positions offset..offset+L-1 (the GPT-NeoX / LLaMA half-split layout). Computed in fp32."""
    d, L = x.shape[-1], x.shape[-2]
    inv_freq = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    angle = torch.arange(offset, offset + L, device=x.device, dtype=torch.float32)[:, None] * inv_freq  # (L, d/2)
    cos, sin = angle.cos(), angle.sin()
    x1, x2 = x.float().chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).to(x.dtype)


class CausalSelfAttention(nn.Module):
    """x: `[B, L, d_model]` -> same, attending to the cache and to positions <= t (within the window)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.n_head, self.head_dim = config.n_head, config.head_dim
        self.rope_base, self.window = config.rope_base, config.context_window
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=False)

    def forward(self, x: torch.Tensor, cache: KVCache | None,
                seq_idx: torch.Tensor | None = None) -> tuple[torch.Tensor, KVCache]:
        """seq_idx `[B, L]` int: packed sequences, each attending only within itself (a block-diagonal
        causal mask; RoPE is relative, so a sequence's offset in the row does not change its scores)."""
        Bsz, L, D = x.shape
        q, k, v = self.qkv(x).view(Bsz, L, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)  # 3 x (B, H, L, hd)
        offset = cache.offset if cache is not None else 0
        q, k = rope(q, offset, self.rope_base), rope(k, offset, self.rope_base)
        if cache is not None and cache.k.shape[2]:
            k, v = torch.cat([cache.k.to(k.dtype), k], dim=2), torch.cat([cache.v.to(v.dtype), v], dim=2)
        T = k.shape[2] - L  # cached positions before this chunk
        if seq_idx is not None:
            if T:
                raise ConfigError("transformer: seq_idx (packed sequences) cannot continue from a KV cache")
            rel = torch.arange(L, device=x.device)[:, None] - torch.arange(L, device=x.device)
            mask = (rel >= 0) & (rel < (self.window or L))
            mask = mask & (seq_idx[:, :, None] == seq_idx[:, None, :])  # (B, L, L)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
        elif self.window is not None and self.window < T + L:
            # key j (absolute offset - T + j) is visible to query i (absolute offset + i) when
            # 0 <= (i + T) - j < window; the mask is [L, T + L] with T < window
            rel = torch.arange(L, device=x.device)[:, None] + T - torch.arange(T + L, device=x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=(rel >= 0) & (rel < self.window))
        elif T:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(L, T + L))
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        keep = k.shape[2] if self.window is None else min(k.shape[2], self.window - 1)
        new_cache = KVCache(k[:, :, k.shape[2] - keep :], v[:, :, v.shape[2] - keep :], offset + L)
        return self.proj(y.transpose(1, 2).reshape(Bsz, L, D)), new_cache


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
        self.attn = CausalSelfAttention(config)
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
        dtype = dtype or self.embedding.weight.dtype
        shape = (batch, self.config.n_head, 0, self.config.head_dim)
        return [
            KVCache(torch.empty(shape, device=device, dtype=dtype), torch.empty(shape, device=device, dtype=dtype), 0)
            for _ in self.layers
        ]
