"""Walking a model's carried state as a tree: one home for the rules that scoring and training share.

A state (what `forward(tokens, state, return_state=True)` returns) is a nest of lists, tuples and
NamedTuples (`MixerState`, `KVCache`) whose tensor leaves are batched along dim 0; any other leaf
(a KV cache's int `offset`, None) belongs to the whole batch and is kept as it is. The state cache
(`genomamba.scoring.state_cache`), chunked BPTT (`genomamba.lit.bptt`) and generation each walk it,
so the walk lives here, under models/, which imports neither scoring/ nor lit/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch

__all__ = ["cat_rows", "detach_state", "map_tensors", "rebuild", "select_rows", "state_signature", "tensor_leaves"]


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def map_tensors(fn: Callable[[torch.Tensor], torch.Tensor], state):
    """`state` with `fn` applied to every tensor leaf: the same lists/tuples/NamedTuples, other leaves kept."""
    if isinstance(state, torch.Tensor):
        return fn(state)
    if _is_namedtuple(state):
        return type(state)(*(map_tensors(fn, s) for s in state))
    if isinstance(state, (list, tuple)):
        return type(state)(map_tensors(fn, s) for s in state)
    return state


def tensor_leaves(state) -> list[torch.Tensor]:
    """The tensor leaves of `state`, depth first in order (`rebuild` puts them back)."""
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, (list, tuple)):
        return [t for s in state for t in tensor_leaves(s)]
    return []


def rebuild(like, leaves: Sequence[torch.Tensor]):
    """A state shaped as `like` whose tensor leaves are `leaves`, in `tensor_leaves(like)`'s order
    (non-tensor leaves from `like`). Raises ValueError unless there is exactly one per leaf of `like`."""
    it = iter(leaves)
    out = _rebuild(like, it)
    if next(it, None) is not None:
        raise ValueError(f"rebuild: more leaves than the {len(tensor_leaves(like))} tensors of the state")
    return out


def _rebuild(like, it: Iterator[torch.Tensor]):
    if isinstance(like, torch.Tensor):
        t = next(it, None)
        if t is None:
            raise ValueError("rebuild: fewer leaves than tensors in the state")
        return t
    if _is_namedtuple(like):
        return type(like)(*(_rebuild(s, it) for s in like))
    if isinstance(like, (list, tuple)):
        return type(like)([_rebuild(s, it) for s in like])
    return like


def select_rows(state, rows: torch.Tensor):
    """The batch rows `rows` (int indices `[n]`) of every tensor leaf (`index_select` along dim 0)."""
    return map_tensors(lambda t: t.index_select(0, rows), state)


def cat_rows(states: Sequence):
    """States of the same `state_signature` stacked along dim 0 (non-tensor leaves: the first's)."""
    first = states[0]
    return rebuild(first, [torch.cat(ts, dim=0) for ts in zip(*(tensor_leaves(s) for s in states))])


def detach_state(state):
    """`state` with every tensor leaf detached from the autograd graph (same storage, no grad)."""
    return map_tensors(torch.Tensor.detach, state)


def state_signature(state) -> tuple:
    """What must agree for two states to stack (`cat_rows`): each tensor's shape past dim 0 and dtype,
    and every other leaf (a Mamba state's shape does not depend on the position; a KV cache's does)."""
    if isinstance(state, torch.Tensor):
        return (tuple(state.shape[1:]), state.dtype)
    if isinstance(state, (list, tuple)):
        return tuple(state_signature(s) for s in state)
    return (state,)
