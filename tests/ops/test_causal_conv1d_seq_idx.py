"""`causal_conv1d_ref` with seq_idx: a packed row equals each sequence convolved alone, the carried
state feeds only the first sequence, and the final state is the last sequence's."""

from __future__ import annotations

import torch

from genomamba.ops.causal_conv1d import causal_conv1d_ref


def _packed(lengths, D=6, K=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = sum(lengths)
    x = torch.randn(1, L, D, generator=g)
    w = torch.randn(D, 1, K, generator=g)
    b = torch.randn(D, generator=g)
    st = torch.randn(1, D, K - 1, generator=g)
    seq = torch.cat([torch.full((n,), i) for i, n in enumerate(lengths)])[None]
    return x, w, b, st, seq


def test_packed_row_equals_sequences_alone():
    lengths = [5, 1, 2, 9]  # sequences shorter than the K-1 = 3 taps included
    x, w, b, st, seq = _packed(lengths)
    out, fin = causal_conv1d_ref(x, w, b, st, return_final_state=True, seq_idx=seq)
    start = 0
    for i, n in enumerate(lengths):
        alone, fin_alone = causal_conv1d_ref(x[:, start:start + n], w, b, st if i == 0 else None,
                                             return_final_state=True)
        torch.testing.assert_close(out[:, start:start + n], alone, rtol=0, atol=1e-6)
        start += n
    torch.testing.assert_close(fin, fin_alone, rtol=0, atol=0)


def test_final_state_of_a_short_last_sequence_is_zero_padded():
    x, w, b, st, seq = _packed([6, 2])
    _, fin = causal_conv1d_ref(x, w, b, st, return_final_state=True, seq_idx=seq)
    assert (fin[..., 0] == 0).all() and torch.equal(fin[..., 1:], x[:, -2:].transpose(1, 2))


def test_one_sequence_equals_no_seq_idx():
    x, w, b, st, _ = _packed([11])
    seq = torch.full((1, 11), 7)
    for a, r in zip(causal_conv1d_ref(x, w, b, st, return_final_state=True, seq_idx=seq),
                    causal_conv1d_ref(x, w, b, st, return_final_state=True)):
        torch.testing.assert_close(a, r, rtol=0, atol=1e-6)
