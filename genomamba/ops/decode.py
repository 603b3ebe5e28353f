"""The decode step's residual add + RMSNorm + next linear layer as one op: the reference and the dispatch.

Between two Mamba mixers of a decode step (`genomamba.models.generation.Decoder`) run the residual
add, the next norm and the next linear layer (the next block's in_proj, or norm_f and the LM head),
and before the first block the embedding lookup too. `add_norm_linear_ref` is the spec (torch only:
`add_rms_norm_ref`, then `F.linear`, then optionally `sample_next`, the next base drawn from the
LM head's logits; `sample_next`, the sampling rule, lives here too) and the CPU path; `add_norm_linear` runs the one-launch Triton
kernel (`genomamba_kernels.add_norm_linear_triton`) where the backend resolves to Triton. The
Decoder's fused path is on by default on CUDA (timed and checked on an H200, BENCHMARKS.md section 9);
GENOMAMBA_FUSED_DECODE=0 (read once, at import), `set_fused_decode(False)` or `Decoder(..., fused=False)`
turn it off.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from genomamba.ops.add_norm import add_rms_norm_ref
from genomamba.ops.selective_scan import resolve_backend

NUCLEOTIDES = 4  # tokens 0-3: A C G T, the only ones sampled

_fused = os.environ.get("GENOMAMBA_FUSED_DECODE", "1") != "0"


def set_fused_decode(enabled: bool) -> None:
    """The Decoder's default: the fused decode step (True) or the unfused one (False)."""
    global _fused
    _fused = bool(enabled)


def fused_decode_enabled() -> bool:
    return _fused


def sample_next(logits: torch.Tensor, noise: torch.Tensor, sampling) -> torch.Tensor:
    """Next tokens `[B]` (int64, in 0..3) from logits `[B, V]` and uniforms `noise` `[B]` in [0, 1);
    `sampling` is a `genomamba.models.generation.Sampling` (temperature, top_k, top_p, greedy).

    Inverse-CDF sampling over the kept bases sorted by probability; no host sync and no
    data-dependent shapes, so it runs inside a CUDA graph.
    """
    lg = logits[:, :NUCLEOTIDES].float()
    if sampling.greedy:
        return lg.argmax(-1)
    lg = lg / sampling.temperature
    # unnormalised softmax (the CDF below is scaled by its total): elementwise ops only, as
    # torch.softmax can stall on the CPU once numba's threads have run
    p, order = (lg - lg.amax(-1, keepdim=True)).exp().sort(dim=-1, descending=True)
    keep = torch.ones_like(p, dtype=torch.bool)
    if sampling.top_k:
        keep &= torch.arange(NUCLEOTIDES, device=p.device) < sampling.top_k
    if sampling.top_p < 1:  # of the top-k mass, that before a base is below p (the first is always kept)
        pk = p * keep
        keep &= (pk.cumsum(-1) - pk) < sampling.top_p * pk.sum(-1, keepdim=True)
    cdf = (p * keep).cumsum(-1)
    pick = (cdf <= noise[:, None] * cdf[:, -1:]).sum(-1)
    pick = torch.minimum(pick, keep.sum(-1) - 1)  # never past the last kept base (u * total rounding)
    return order.gather(-1, pick[:, None])[:, 0]


def add_norm_linear_ref(
    x: torch.Tensor | None,
    residual: torch.Tensor | None,
    norm_weight: torch.Tensor,
    eps: float,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    tokens: torch.Tensor | None = None,
    embedding: torch.Tensor | None = None,
    sampling=None,
    noise: torch.Tensor | None = None,
    tokens_out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(linear(add_rms_norm_ref(x, residual)), r): the norm in x's dtype and r in fp32, as
    `add_rms_norm_ref` gives them; out in weight's dtype.

    Args:
        x: `[B, d]`, or None with `tokens` `[B]` and `embedding` `[V, d]` (x = embedding[tokens]).
        residual: `[B, d]` fp32 or None. norm_weight: `[d]`. weight: `[O, d]`; bias: `[O]` or None.
        sampling: a `Sampling` (after the LM head): also write `sample_next(out, noise, sampling)`
            into `tokens_out` `[B]`, the next base drawn with the uniforms `noise` `[B]`.
    """
    if tokens is not None:
        x = F.embedding(tokens.long(), embedding)
    normed, r = add_rms_norm_ref(x, residual, norm_weight, eps, prenorm=True)
    out = F.linear(normed, weight, bias)
    if sampling is not None:
        tokens_out.copy_(sample_next(out, noise, sampling))
    return out, r


def add_norm_linear(
    x: torch.Tensor | None,
    residual: torch.Tensor | None,
    norm_weight: torch.Tensor,
    eps: float,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    tokens: torch.Tensor | None = None,
    embedding: torch.Tensor | None = None,
    sampling=None,
    noise: torch.Tensor | None = None,
    tokens_out: torch.Tensor | None = None,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`add_norm_linear_ref`'s op; the fused kernel where `backend` resolves to "triton", else the reference."""
    args = (x, residual, norm_weight, eps, weight, bias, tokens, embedding)
    if resolve_backend(backend, weight.device) == "triton":
        from genomamba_kernels import add_norm_linear_triton

        sample = None if sampling is None else (sampling.temperature, sampling.top_k, sampling.top_p)
        return add_norm_linear_triton(*args, sample=sample, noise=noise, tokens_out=tokens_out)
    return add_norm_linear_ref(*args, sampling, noise, tokens_out)
