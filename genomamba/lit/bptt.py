"""Chunked backpropagation through time over a causal CharMambaLM: the exact gradient of a loss over
a sequence of any length, in the memory of one chunk's activations plus the chunk-boundary states.

Exact (the default): a no-grad forward over the chunks keeps each layer's conv and SSM state at every
chunk boundary. Then, walking the chunks in reverse, each chunk's forward is recomputed from its
boundary state (leaves requiring grad) and one backward takes the chunk's loss term together with the
gradient that the chunk after sent to its final state; the gradient reaching its initial state goes to
the chunk before. About two forwards and one backward per step; the gradient equals a one-pass backward.

Truncated: one forward + backward per chunk, in order, the state carried forward but detached, so the
gradient stops at chunk edges. Cheaper (one forward), and NOT the gradient of the loss.

The loss is a sum of per-chunk terms, `loss_fn(logits_of_chunk, start) -> scalar`, each already
normalised over the whole sequence (see `genomamba.lit.pretrain.next_base_loss_terms`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from genomamba.errors import ConfigError
from genomamba.models import CharMambaLM
from genomamba.models.state_tree import (
    detach_state,
    map_tensors,
    rebuild,
    tensor_leaves,
)

LossTerm = Callable[[torch.Tensor, int], torch.Tensor]

__all__ = ["check_chunkable", "chunk_bounds", "chunked_backward", "chunked_grad", "chunked_loss", "loss_with_grads"]


def check_chunkable(model: nn.Module) -> None:
    """Raise ConfigError unless chunking is exact for `model`: causal, with a fixed-size carried state."""
    if not isinstance(model, CharMambaLM):
        raise ConfigError(f"module.backprop_chunk needs a CharMambaLM (a fixed-size carried state), got "
                         f"{type(model).__name__}; set module.backprop_chunk=null")
    if not model.is_causal:
        raise ConfigError("module.backprop_chunk needs a causal model: a bidirectional model's outputs depend on "
                         "later chunks; set module.backprop_chunk=null")
    if getattr(model.config, "attn_layer_idx", None):
        raise ConfigError("module.backprop_chunk needs Mamba layers only: the hybrid's attention layers carry a KV "
                         "cache, not a fixed-size state; set module.backprop_chunk=null")


def chunk_bounds(length: int, chunk: int) -> list[tuple[int, int]]:
    """[(start, end)] covering 0..length in pieces of `chunk` (the last one shorter)."""
    if chunk < 1:
        raise ConfigError(f"module.backprop_chunk must be a positive number of tokens, got {chunk}")
    return [(s, min(s + chunk, length)) for s in range(0, length, chunk)]


def _enter(state: list | None, seq_idx: torch.Tensor | None, start: int) -> list | None:
    """`state` as it enters the chunk at `start`: zero in the rows where a new packed sequence begins
    exactly there (the model takes a carried state as that of the sequence at the chunk's position 0)."""
    if state is None or seq_idx is None or start == 0:
        return state
    keep = seq_idx[:, start] == seq_idx[:, start - 1]
    return map_tensors(lambda t: t * keep.to(t.dtype).view(-1, *([1] * (t.dim() - 1))), state)


def _piece(seq_idx: torch.Tensor | None, s: int, e: int) -> torch.Tensor | None:
    return None if seq_idx is None else seq_idx[:, s:e]


def _add(acc: list, grads: Sequence[torch.Tensor | None]) -> None:
    for i, g in enumerate(grads):
        if g is not None:
            acc[i] = g if acc[i] is None else acc[i].add_(g)


@torch.no_grad()
def chunked_loss(model: CharMambaLM, tokens: torch.Tensor, chunk: int, loss_fn: LossTerm,
                 seq_idx: torch.Tensor | None = None) -> torch.Tensor:
    """The loss's value (no gradient), chunk by chunk with the state carried: a forward of any length.
    seq_idx `[B, L]`: packed sequences (the state restarts at each boundary, chunk edges included)."""
    check_chunkable(model)
    total, state = torch.zeros((), device=tokens.device), None
    for s, e in chunk_bounds(tokens.shape[1], chunk):
        logits, state = model(tokens[:, s:e], _enter(state, seq_idx, s), return_state=True,
                              seq_idx=_piece(seq_idx, s, e))
        total += loss_fn(logits, s).float()
    return total


def chunked_grad(
    model: CharMambaLM,
    tokens: torch.Tensor,
    chunk: int,
    loss_fn: LossTerm,
    inputs: Sequence[torch.Tensor],
    truncated: bool = False,
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The loss (detached) and its gradient w.r.t. `inputs` (parameters), chunk by chunk; no .grad is touched.

    Args:
        tokens: `[B, L]`. chunk: tokens per chunk. loss_fn: the chunk's loss term (module docstring).
        inputs: tensors to differentiate (e.g. the model's parameters requiring grad).
        truncated: gradient cut at chunk edges (not exact; see the module docstring).
        seq_idx: `[B, L]` int, packed sequences: every layer restarts at each boundary, also at a chunk edge.
    """
    check_chunkable(model)
    bounds = chunk_bounds(tokens.shape[1], chunk)
    inputs = list(inputs)
    grads: list = [None] * len(inputs)
    total = torch.zeros((), device=tokens.device)
    if truncated:
        state = None
        for s, e in bounds:
            with torch.enable_grad():
                logits, new = model(tokens[:, s:e], _enter(state, seq_idx, s), return_state=True,
                                    seq_idx=_piece(seq_idx, s, e))
                term = loss_fn(logits, s)
                _add(grads, torch.autograd.grad(term, inputs, allow_unused=True))
            total += term.detach().float()
            state = detach_state(new)
            del logits, new, term
        return total, [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]

    with torch.no_grad():  # the boundary states: states[k] is the state entering chunk k
        states = [None]
        for s, e in bounds[:-1]:
            states.append(detach_state(model(tokens[:, s:e], _enter(states[-1], seq_idx, s), return_state=True,
                                             seq_idx=_piece(seq_idx, s, e))[1]))
    if len(bounds) > 1:  # zeros as leaves, so chunk 0's final state is differentiable on every backend
        states[0] = map_tensors(torch.zeros_like, states[1])
    state_grads = None
    for k in reversed(range(len(bounds))):
        s, e = bounds[k]
        with torch.enable_grad():
            leaves = [t.detach().requires_grad_() for t in tensor_leaves(states[k])]  # a one-chunk sequence: [], None
            init = rebuild(states[k], leaves)
            logits, new = model(tokens[:, s:e], _enter(init, seq_idx, s), return_state=True,
                                seq_idx=_piece(seq_idx, s, e))
            term = loss_fn(logits, s)
            outs, douts = [term], [None]
            if state_grads is not None:
                for t, g in zip(tensor_leaves(new), state_grads):
                    if g is not None and t.requires_grad:
                        outs.append(t)
                        douts.append(g)
            got = torch.autograd.grad(outs, inputs + leaves, douts, allow_unused=True)
        _add(grads, got[: len(inputs)])
        state_grads = got[len(inputs):]
        total += term.detach().float()
        states[k] = None  # a boundary state is read once
        del logits, new, term, outs, douts, got, leaves, init
    return total, [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


def chunked_backward(
    model: CharMambaLM, tokens: torch.Tensor, chunk: int, loss_fn: LossTerm, truncated: bool = False,
    seq_idx: torch.Tensor | None = None,
) -> torch.Tensor:
    """`loss.backward()` for the chunked loss: accumulates into the parameters' .grad; returns the loss (detached)."""
    params = [p for p in model.parameters() if p.requires_grad]
    loss, grads = chunked_grad(model, tokens, chunk, loss_fn, params, truncated, seq_idx)
    for p, g in zip(params, grads):
        p.grad = g if p.grad is None else p.grad.add_(g)
    return loss


class _WithGrads(torch.autograd.Function):
    @staticmethod
    def forward(ctx, loss, grads, *params):
        ctx.grads = grads
        return loss.detach().clone()

    @staticmethod
    def backward(ctx, dout):
        return (None, None, *(g * dout.to(g.dtype) for g in ctx.grads))


def loss_with_grads(loss: torch.Tensor, params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> torch.Tensor:
    """`loss`'s value whose backward deposits `grads` (times the incoming gradient) on `params`.

    A training step returns it, so whatever its trainer does to a loss applies unchanged to gradients
    computed chunk by chunk: accumulation scaling, AMP loss scaling, DDP's gradient all-reduce (which
    fires on that one backward; the chunk backwards inside the step use torch.autograd.grad, which
    leaves .grad and DDP's hooks alone).
    """
    return _WithGrads.apply(loss, list(grads), *params)
