"""models/state_tree: flatten/rebuild round trip on a nested state with a KV cache, map keeping the
structure, row selection and concatenation along the batch, detach dropping the graph, the stacking
signature; and on a real hybrid model's state (Mamba + attention), rows selected and re-stacked
continue exactly as the whole batch does."""

from __future__ import annotations

import pytest
import torch

from genomamba.models import CharMambaLM, MambaConfig
from genomamba.models.state_tree import (
    cat_rows,
    detach_state,
    map_tensors,
    rebuild,
    select_rows,
    state_signature,
    tensor_leaves,
)
from genomamba.modules import KVCache, MixerState

B = 4


def _state(batch: int = B, T: int = 3, offset: int = 7, seed: int = 0):
    """A nested state of every kind of node: a list of a MixerState, a KVCache (int offset), a plain
    tensor (a Markov state) and a tuple holding a list, with a None leaf; every tensor's values distinct."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(batch, *shape, generator=g)

    return [MixerState(r(5, 2), r(5, 3)), KVCache(r(2, T, 4), r(2, T, 4), offset), r(6).long(),
            (r(1), [r(2, 2), None])]


def _assert_same_structure(a, b):
    """Same node types all the way down and the same non-tensor leaves (tensors compared elsewhere)."""
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        return
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_structure(x, y)
    else:
        assert a == b


def test_tensor_leaves_are_every_tensor_depth_first_and_nothing_else():
    s = _state()
    leaves = tensor_leaves(s)
    expected = [s[0].conv, s[0].ssm, s[1].k, s[1].v, s[2], s[3][0], s[3][1][0]]
    assert len(leaves) == len(expected) == 7
    assert all(a is b for a, b in zip(leaves, expected))  # the offset 7 and the None are not leaves
    assert tensor_leaves(None) == [] and tensor_leaves(7) == []
    kv = tensor_leaves(s[1])
    assert len(kv) == 2 and kv[0] is s[1].k and kv[1] is s[1].v


def test_rebuild_round_trip_and_places_each_leaf_where_it_came_from():
    s = _state()
    same = rebuild(s, tensor_leaves(s))
    _assert_same_structure(same, s)
    assert all(a is b for a, b in zip(tensor_leaves(same), tensor_leaves(s)))
    assert isinstance(same[0], MixerState) and isinstance(same[1], KVCache) and same[1].offset == 7
    assert same[3][1][1] is None

    new = [torch.full_like(t, float(i)) for i, t in enumerate(tensor_leaves(s))]
    out = rebuild(s, new)
    _assert_same_structure(out, s)
    assert out[0].conv.eq(0).all() and out[0].ssm.eq(1).all()
    assert out[1].k.eq(2).all() and out[1].v.eq(3).all() and out[1].offset == 7
    assert out[2].eq(4).all() and out[3][0].eq(5).all() and out[3][1][0].eq(6).all()
    assert rebuild(None, []) is None


def test_rebuild_refuses_the_wrong_number_of_leaves():
    s = _state()
    leaves = tensor_leaves(s)
    with pytest.raises(ValueError, match="fewer"):
        rebuild(s, leaves[:-1])
    with pytest.raises(ValueError, match="more"):
        rebuild(s, [*leaves, leaves[0]])


def test_map_tensors_keeps_the_structure_and_the_other_leaves():
    s = _state()
    before = [t.clone() for t in tensor_leaves(s)]
    out = map_tensors(lambda t: t * 2 + 1, s)
    _assert_same_structure(out, s)
    assert out[1].offset == 7 and out[3][1][1] is None
    for o, t in zip(tensor_leaves(out), before):
        torch.testing.assert_close(o, t * 2 + 1)
    for t, b in zip(tensor_leaves(s), before):  # the input is not modified
        assert torch.equal(t, b)
    assert map_tensors(lambda t: t + 1, 3) == 3 and map_tensors(lambda t: t + 1, None) is None


def test_select_rows_takes_those_rows_of_every_tensor_in_that_order():
    s = _state()
    rows = torch.tensor([2, 0, 2])
    out = select_rows(s, rows)
    _assert_same_structure(out, s)
    assert out[1].offset == 7
    for o, t in zip(tensor_leaves(out), tensor_leaves(s)):
        assert o.shape[0] == 3
        assert torch.equal(o, t[[2, 0, 2]])


def test_cat_rows_stacks_along_the_batch_and_undoes_a_split():
    s = _state()
    parts = [select_rows(s, torch.tensor(r)) for r in ([3], [0, 2], [1])]
    out = cat_rows(parts)
    _assert_same_structure(out, s)
    for o, t in zip(tensor_leaves(out), tensor_leaves(s)):
        assert torch.equal(o, t[[3, 0, 2, 1]])
    whole = cat_rows([select_rows(s, torch.tensor([0, 1])), select_rows(s, torch.tensor([2, 3]))])
    assert all(torch.equal(a, b) for a, b in zip(tensor_leaves(whole), tensor_leaves(s)))
    # two different states: rows of the first, then the second; the KV offset is the first's
    a, b = _state(batch=2, seed=1), _state(batch=3, seed=2)
    ab = cat_rows([a, b])
    assert ab[1].offset == 7 and ab[3][1][1] is None
    for o, x, y in zip(tensor_leaves(ab), tensor_leaves(a), tensor_leaves(b)):
        assert o.shape[0] == 5 and torch.equal(o[:2], x) and torch.equal(o[2:], y)


def test_detach_state_drops_the_graph_and_keeps_the_storage():
    w = torch.ones((), requires_grad=True)
    s = map_tensors(lambda t: t.float() * w, _state())
    assert all(t.requires_grad for t in tensor_leaves(s))
    out = detach_state(s)
    _assert_same_structure(out, s)
    assert out[1].offset == 7
    for o, t in zip(tensor_leaves(out), tensor_leaves(s)):
        assert not o.requires_grad and o.grad_fn is None
        assert o.data_ptr() == t.data_ptr() and torch.equal(o, t)
    assert all(t.requires_grad for t in tensor_leaves(s))  # the input keeps its graph


def test_state_signature_ignores_the_batch_but_not_the_kv_length_offset_or_dtype():
    assert state_signature(_state(batch=2)) == state_signature(_state(batch=5, seed=3))
    assert state_signature(_state(T=3)) != state_signature(_state(T=4))
    assert state_signature(_state(offset=7)) != state_signature(_state(offset=8))
    s = _state()
    assert state_signature(s) != state_signature(map_tensors(lambda t: t.double(), s))


def test_rows_of_a_hybrid_models_state_continue_as_the_whole_batch():
    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4, attn_layer_idx=[1], attn_num_heads=2)).eval()
    x = torch.randint(0, 4, (B, 20))
    with torch.no_grad():
        _, state = model(x[:, :12], return_state=True)
        assert isinstance(state[0], MixerState) and isinstance(state[1], KVCache)
        full = model(x[:, 12:], state)
        rows = torch.tensor([3, 1])
        restacked = cat_rows([select_rows(state, rows[:1]), select_rows(state, rows[1:])])
        assert isinstance(restacked[1], KVCache) and restacked[1].offset == state[1].offset == 12
        part = model(x[rows, 12:], restacked)
    torch.testing.assert_close(part, full[rows])
