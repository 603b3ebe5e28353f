"""Causal multi-head self-attention with rotary position embeddings and an optional sliding window:
the attention of TransformerLM and the attention layers of the hybrid CharMambaLM.

RoPE (Su et al. 2021, arXiv:2104.09864), half-split layout of GPT-NeoX / LLaMA, angles in fp32
(exact in position up to 2^24 bases); attention through `scaled_dot_product_attention` (flash /
memory-efficient kernels where the device has them).

Streaming: the state carried between calls is a `KVCache` (keys after RoPE, values, and the
absolute position of the next token), so chunk by chunk, down to one token per call as generation
does, gives what one pass gives. Full attention: the cache grows with the tokens seen. With a
window W every query attends to the last W positions (itself included) and the cache keeps the last
W - 1 positions: a rolling buffer, bounded memory. A windowed pass over L > W queries runs in query
blocks, each against its own W - 1 + block keys with one shared band mask, batched into one SDPA
call, so time and memory are O(L W), not O(L^2) (`windowed_attention`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.bias import causal_lower_right

from genomamba.errors import ConfigError

__all__ = ["CausalSelfAttention", "KVCache", "rope", "windowed_attention"]

MIN_BLOCK, MAX_BLOCK = 256, 1024  # queries per block of a windowed pass: the window, clamped to these


class KVCache(NamedTuple):
    """One attention layer's carried state: keys (after RoPE) and values of the positions kept."""

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


def windowed_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int,
                       block: int | None = None) -> torch.Tensor:
    """Sliding-window causal attention: q `[B, H, L, d]` are the last L of the T + L positions of
    k, v `[B, H, T + L, d]`; query i (position T + i) sees keys j with 0 <= T + i - j < window.

    Queries at positions < window see every key before them: plain causal attention (SDPA's causal
    kernels, no mask). The others go in blocks of `block` (default the window clamped to
    [256, 1024]), each against its keys [start - window + 1, start + block), all blocks in one SDPA
    call (keys gathered by `unfold`, the last block padded at the end) reading one additive band
    mask in q's dtype with 8-aligned rows, which the memory-efficient kernel takes as is: time and
    memory O(L * (window + block)), the mask O(block * (window + block)).
    """
    Bsz, H, L, d = q.shape
    T = k.shape[2] - L
    out, first = [], 0
    if T < window:
        first = min(L, window - T)
        causal = {"attn_mask": causal_lower_right(first, T + first)} if T else {"is_causal": True}
        out.append(F.scaled_dot_product_attention(q[:, :, :first], k[:, :, : T + first], v[:, :, : T + first], **causal))
    n = L - first
    if n:
        block = min(block or min(max(window, MIN_BLOCK), MAX_BLOCK), n)
        span = block + window - 1  # keys per block
        # bias[r, c] = 0 where query r of a block sees key c of its range (which starts window - 1 before it)
        r = torch.arange(block, device=q.device)[:, None]
        c = torch.arange(span, device=q.device)
        bias = torch.full((block, -(-span // 8) * 8), -math.inf, device=q.device, dtype=q.dtype)[:, :span]
        bias.masked_fill_((c >= r) & (c < r + window), 0.0)
        nb = -(-n // block)
        pad = nb * block - n  # zero queries and keys at the end: only padded queries see padded keys
        qb = F.pad(q[:, :, first:], (0, 0, 0, pad)).reshape(Bsz, H * nb, block, d)
        lo = T + first - window + 1  # >= 1: the prefix took the queries whose keys start at 0
        kb, vb = (F.pad(t[:, :, lo:], (0, 0, 0, pad)).unfold(2, span, block).transpose(-1, -2).reshape(Bsz, H * nb, span, d)
                  for t in (k, v))
        y = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=bias)
        out.append(y.view(Bsz, H, nb * block, d)[:, :, :n])
    return out[0] if len(out) == 1 else torch.cat(out, dim=2)


class CausalSelfAttention(nn.Module):
    """x: `[B, L, d_model]` -> same, each position attending to the cache and to positions <= t
    (the last `window` of them when a window is set).

    Args:
        d_model: width; head_dim = d_model / n_head must be even (RoPE).
        n_head: attention heads.
        window: None for full causal attention, else the positions each query sees (>= 1).
        rope_base: RoPE's base.
    """

    def __init__(self, d_model: int, n_head: int, window: int | None = None, rope_base: float = 10000.0):
        super().__init__()
        if d_model % n_head or (d_model // n_head) % 2:
            raise ValueError(f"d_model {d_model} must be n_head ({n_head}) times an even head_dim")
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1 or None, got {window}")
        self.d_model, self.n_head, self.head_dim = d_model, n_head, d_model // n_head
        self.window, self.rope_base = window, rope_base
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)

    def allocate_state(self, batch: int, device=None, dtype: torch.dtype | None = None) -> KVCache:
        """An empty cache (no positions seen; on the layer's device unless `device` says otherwise); it
        fills as chunks go through."""
        dtype = dtype or self.qkv.weight.dtype
        device = self.qkv.weight.device if device is None else device
        shape = (batch, self.n_head, 0, self.head_dim)
        return KVCache(torch.empty(shape, device=device, dtype=dtype), torch.empty(shape, device=device, dtype=dtype), 0)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                seq_idx: torch.Tensor | None = None) -> tuple[torch.Tensor, KVCache]:
        """x: `[B, L, d_model]`; cache from the previous call or None (position 0); seq_idx `[B, L]`
        int: packed sequences, each attending only within itself (a block-diagonal causal mask; RoPE
        is relative, so a sequence's offset in the row does not change its scores).

        Returns the output `[B, L, d_model]` and the cache after the last position.
        """
        Bsz, L, D = x.shape
        q, k, v = self.qkv(x).view(Bsz, L, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)  # 3 x (B, H, L, hd)
        offset = cache.offset if cache is not None else 0
        q, k = rope(q, offset, self.rope_base), rope(k, offset, self.rope_base)
        if cache is not None and cache.k.shape[2]:
            k, v = torch.cat([cache.k.to(k.dtype), k], dim=2), torch.cat([cache.v.to(v.dtype), v], dim=2)
        T = k.shape[2] - L  # cached positions before this chunk
        if seq_idx is not None:
            if T:
                raise ConfigError("attention: seq_idx (packed sequences) cannot continue from a KV cache")
            rel = torch.arange(L, device=x.device)[:, None] - torch.arange(L, device=x.device)
            mask = (rel >= 0) & (rel < (self.window or L))
            mask = mask & (seq_idx[:, :, None] == seq_idx[:, None, :])  # (B, L, L)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
        elif self.window is not None and self.window < T + L:
            y = windowed_attention(q, k, v, self.window)
        elif T:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(L, T + L))
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        S = k.shape[2]
        if self.window is None or S < self.window:
            new_cache = KVCache(k, v, offset + L)
        else:  # keep the last window - 1 positions, copied so the dropped ones are freed
            keep = self.window - 1
            new_cache = KVCache(k[:, :, S - keep :].clone(), v[:, :, S - keep :].clone(), offset + L)
        return self.proj(y.transpose(1, 2).reshape(Bsz, L, D)), new_cache
