"""Packed variable-length batches (`seq_idx`): a sequence's logits are the same alone, padded in a
batch (batch size 1 included) and packed with others, for the causal and bidirectional Mamba models
(every CPU backend) and the transformer; packed gradients equal the sum of the per-sequence gradients.
The fused Triton mixers with seq_idx are held to the torch path in tests/modules/test_mixer_seq_idx.py."""

from __future__ import annotations

import pytest
import torch

from genomamba.alphabet import PAD
from genomamba.errors import ConfigError
from genomamba.models import CharMambaLM, MambaConfig
from genomamba.models.transformer import TransformerConfig, TransformerLM

LENGTHS = [13, 1, 7, 20, 2]  # shorter than the conv taps (d_conv - 1 = 3) included


def _mamba(backend, **kw):
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4, scan_backend=backend, **kw)).eval()


def _transformer(**kw):
    torch.manual_seed(0)
    return TransformerLM(TransformerConfig(d_model=16, n_layer=2, n_head=2, **kw)).eval()


MODELS = {
    "causal-torch": lambda: _mamba("torch"),
    "causal-ref": lambda: _mamba("ref"),
    "causal-numba": lambda: _mamba("numba"),
    "bidir-torch": lambda: _mamba("torch", bidirectional=True),
    "bidir-rc-torch": lambda: _mamba("torch", bidirectional=True, rc_equivariant=True),
    "transformer": _transformer,
    "transformer-window": lambda: _transformer(context_window=5),
}


def _sequences():
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, 5, (n,), generator=g) for n in LENGTHS]


def _batch(rows, width):
    """rows: lists of sequences packed per row -> tokens `[B, width]`, seq_idx (padding: its own id)."""
    tokens = torch.full((len(rows), width), PAD)
    seq_idx = torch.full((len(rows), width), len(LENGTHS))
    spans = []
    for r, row in enumerate(rows):
        start = 0
        for i, s in row:
            tokens[r, start:start + len(s)] = s
            seq_idx[r, start:start + len(s)] = i
            spans.append((i, r, start))
            start += len(s)
    return tokens, seq_idx, spans


@pytest.mark.parametrize("name", MODELS)
def test_logits_alone_padded_and_packed_are_equal(name):
    model = MODELS[name]()
    seqs = _sequences()
    with torch.no_grad():
        alone = [model(s[None])[0] for s in seqs]
        layouts = {
            "padded": [[(i, s)] for i, s in enumerate(seqs)],
            "packed": [[(0, seqs[0]), (1, seqs[1]), (2, seqs[2])], [(3, seqs[3]), (4, seqs[4])]],
            "batch1-padded": [[(2, seqs[2])]],
        }
        for layout, rows in layouts.items():
            tokens, seq_idx, spans = _batch(rows, 26)
            logits = model(tokens, seq_idx=seq_idx)
            for i, r, start in spans:
                torch.testing.assert_close(logits[r, start:start + LENGTHS[i]], alone[i], rtol=1e-5, atol=1e-5,
                                           msg=lambda m: f"{name} {layout} seq {i}: {m}")


def test_bidirectional_padding_without_seq_idx_leaks():
    """The check above can fail: padding changes a bidirectional model's logits unless seq_idx marks it."""
    model = MODELS["bidir-torch"]()
    s = _sequences()[2]
    tokens, seq_idx, _ = _batch([[(2, s)]], 26)
    with torch.no_grad():
        assert not torch.allclose(model(tokens)[0, :len(s)], model(s[None])[0], atol=1e-4)


@pytest.mark.parametrize("name", ["causal-torch", "bidir-torch"])
def test_packed_gradients_equal_the_sum_over_sequences(name):
    seqs = _sequences()
    model = MODELS[name]().train()
    tokens, seq_idx, spans = _batch([[(i, s) for i, s in enumerate(seqs)]], sum(LENGTHS) + 3)
    w = torch.randn(tokens.shape[1], model.config.vocab_size, generator=torch.Generator().manual_seed(2))
    logits = model(tokens, seq_idx=seq_idx)
    real = (seq_idx < len(LENGTHS)).float()[0, :, None]
    (logits[0] * w * real).sum().backward()
    packed = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    for i, _, start in spans:
        (model(seqs[i][None])[0] * w[start:start + LENGTHS[i]]).sum().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(packed[n], p.grad, rtol=1e-4, atol=1e-5, msg=lambda m: f"d{n}: {m}")


def test_mamba_state_after_a_packed_row_is_the_last_sequence_s():
    model = MODELS["causal-torch"]()
    seqs = _sequences()
    tokens, seq_idx, _ = _batch([[(0, seqs[0]), (1, seqs[1]), (3, seqs[3])]], LENGTHS[0] + LENGTHS[1] + LENGTHS[3])
    nxt = torch.randint(0, 5, (1, 6))
    with torch.no_grad():
        _, state = model(tokens, seq_idx=seq_idx, return_state=True)
        _, alone = model(seqs[3][None], return_state=True)
        torch.testing.assert_close(model(nxt, state=state), model(nxt, state=alone), rtol=1e-5, atol=1e-5)


def test_transformer_refuses_seq_idx_with_a_kv_cache():
    model = MODELS["transformer"]()
    tokens = torch.randint(0, 5, (1, 8))
    with torch.no_grad():
        _, state = model(tokens, return_state=True)
        with pytest.raises(ConfigError, match="seq_idx"):
            model(tokens, state=state, seq_idx=torch.zeros(1, 8, dtype=torch.long))
