"""Chunked inference (`CharLM.forward` without gradients, longer than `inference_chunk_tokens`): a
causal Mamba stack runs chunk by chunk with its carried state and gives the one-pass logits and
state; with gradients, packed rows (seq_idx), a bidirectional model or a hybrid with attention it
runs in one pass. On a GPU (`gpu` marker): the same logits at full size in less peak memory."""

from __future__ import annotations

import pytest
import torch

from genomamba.models import CharMambaLM, MambaConfig
from genomamba.models import base


def _model(**kw) -> CharMambaLM:
    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4, **kw)).eval()
    model.inference_chunk_min_len = 1
    return model


def _calls(model, monkeypatch) -> list[int]:
    """Lengths of the passes over the layers a forward makes."""
    seen, real = [], model._hidden_pass

    def spy(tokens, *args, **kw):
        seen.append(tokens.shape[1])
        return real(tokens, *args, **kw)

    monkeypatch.setattr(model, "_hidden_pass", spy)
    return seen


def _one_pass_vs_chunks(with_state: bool, tokens: torch.Tensor, monkeypatch, **kw) -> list[int]:
    """Runs `tokens` (batch 2) in one pass and in chunks of 16 positions, from zero or a carried state, checks
    that the logits, the hidden states (`hidden_states`) and the final states agree, and returns the lengths of
    the chunked forward's passes."""
    model = _model()
    state = None
    if with_state:
        with torch.no_grad():
            _, state = model(torch.randint(0, 5, (2, 9)), return_state=True)
    with torch.no_grad():
        model.inference_chunk_tokens = None
        want, want_state = model(tokens, state, return_state=True, **kw)
        want_h, _ = model.hidden_states(tokens, state, **kw)
        model.inference_chunk_tokens = 2 * 16  # 16 positions a chunk at batch 2
        seen = _calls(model, monkeypatch)
        got, got_state = model(tokens, state, return_state=True, **kw)
        passes = list(seen)
        got_h, h_state = model.hidden_states(tokens, state, **kw)  # chunked the same way
    assert seen == passes + passes
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_h, want_h, rtol=1e-5, atol=1e-5)
    for a, b, c in zip(got_state, want_state, h_state):
        torch.testing.assert_close(a.conv, b.conv, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(a.ssm, b.ssm, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(c.ssm, b.ssm, rtol=1e-5, atol=1e-6)
    return passes


@pytest.mark.parametrize("with_state", [False, True], ids=["from-zero", "carried-state"])
def test_chunked_inference_matches_one_pass(with_state, monkeypatch):
    assert _one_pass_vs_chunks(with_state, torch.randint(0, 5, (2, 53)), monkeypatch) == [16, 16, 16, 5]


def test_one_pass_with_gradients_or_short_inputs(monkeypatch):
    model = _model()
    model.inference_chunk_tokens = 16
    seen = _calls(model, monkeypatch)
    tokens = torch.randint(0, 5, (1, 40))
    model(tokens)  # grad enabled: training or a gradient of the inputs
    with torch.no_grad():
        model(tokens[:, :16])  # not longer than a chunk
    assert seen == [40, 16]


@pytest.mark.parametrize("with_state", [False, True], ids=["from-zero", "carried-state"])
def test_packed_rows_chunked_match_one_pass(with_state, monkeypatch):
    """Packed rows (seq_idx) in chunks: sequences that change at a chunk's first position (row 0 at 16 and
    32), inside a chunk, or run on across chunks (row 1) give the one-pass logits and final state."""
    seq_idx = torch.zeros(2, 45, dtype=torch.int64)
    seq_idx[0, 16:], seq_idx[0, 32:], seq_idx[0, 40:] = 1, 2, 3
    seq_idx[1, 7:] = 1
    seen = _one_pass_vs_chunks(with_state, torch.randint(0, 5, (2, 45)), monkeypatch, seq_idx=seq_idx)
    assert seen == [16, 16, 13]


@pytest.mark.parametrize("kw", [{"bidirectional": True}, {"attn_layer_idx": [1]}], ids=["bidirectional", "hybrid"])
def test_models_without_a_fixed_causal_state_run_one_pass(kw, monkeypatch):
    model = _model(**kw)
    model.inference_chunk_tokens = 16
    seen = _calls(model, monkeypatch)
    with torch.no_grad():
        model(torch.randint(0, 5, (1, 40)))
    assert seen == [40]


def test_the_default_chunk_is_the_devices(monkeypatch):
    """"auto": 2^13 tokens a chunk on a CPU (small activations: no page faults of fresh tensors each call), 2^18 on
    a GPU; GENOMAMBA_INFERENCE_CHUNK sets one size everywhere."""
    assert base.default_inference_chunk_tokens(torch.device("cpu")) == 1 << 13
    assert base.default_inference_chunk_tokens(torch.device("cuda", 0)) == 1 << 18
    model = _model()
    assert model.inference_chunk_tokens == "auto"
    seen = _calls(model, monkeypatch)
    with torch.no_grad():
        model(torch.randint(0, 5, (2, 3 * 4096 + 7)))  # 4,096 positions a chunk at batch 2
    assert seen == [4096, 4096, 4096, 7]
    monkeypatch.setattr(base, "_CHUNK_ENV", "0")
    assert base.default_inference_chunk_tokens(torch.device("cpu")) == 0
    seen.clear()
    with torch.no_grad():
        model(torch.randint(0, 5, (1, 9000)))
    assert seen == [9000]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_chunked_inference_full_size_on_the_gpu():
    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=256, n_layer=2, d_state=16)).cuda().eval()
    tokens = torch.randint(0, 4, (1, 1 << 18), device="cuda")
    peaks, outs = [], []
    for chunk in (None, 1 << 16):
        model.inference_chunk_tokens = chunk
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            outs.append(model(tokens).float())
        peaks.append(torch.cuda.max_memory_allocated() - base)
    err = (outs[0] - outs[1]).abs().max().item()
    assert err <= 3e-2 * max(outs[0].abs().max().item(), 1.0), f"max abs diff {err:.3e}"
    assert peaks[1] < 0.5 * peaks[0], f"peak {peaks[1] / 2**20:.0f} MiB chunked, {peaks[0] / 2**20:.0f} MiB one pass"
