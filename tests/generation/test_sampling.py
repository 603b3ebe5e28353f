"""Decoding: greedy equals argmax of the parallel forward re-run on the growing sequence, seeds
reproduce, only A C G T are emitted, and top-k / top-p / temperature draw from the right
distribution; bidirectional models are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genomamba as gm
from genomamba.errors import GenomambaError
from genomamba.models import MarkovConfig, MarkovLM
from genomamba.models.generation import Decoder, Sampling, sample_next

from .helpers import MODELS, tiny_mamba


def _markov() -> MarkovLM:
    rng = np.random.default_rng(0)
    return MarkovLM(MarkovConfig(k=2), [rng.integers(0, 50, (4**j, 4)) for j in range(3)])


@pytest.mark.parametrize("kind", [*MODELS, "markov"])
def test_greedy_equals_argmax_of_parallel_forward(kind):
    model = _markov() if kind == "markov" else MODELS[kind]()
    prompt = torch.tensor([0, 3, 2, 2, 1, 4, 0])  # an N in the prompt
    got = Decoder(model, 1, Sampling(temperature=0), steps_per_graph=3).generate(prompt, 10)[0]
    seq = prompt.clone()
    with torch.inference_mode():
        for _ in range(10):
            seq = torch.cat([seq, model(seq[None])[0, -1, :4].argmax()[None]])
    np.testing.assert_array_equal(got, seq[len(prompt):].numpy())


def test_seeds_reproduce_and_differ():
    model = tiny_mamba()
    kw = {"num_samples": 3, "temperature": 1.3, "top_p": 0.95, "steps_per_graph": 4}
    a = gm.generate(model, "ACGTTG", 40, seed=7, **kw)
    assert a == gm.generate(model, "acgttg", 40, seed=7, **kw)
    assert a != gm.generate(model, "ACGTTG", 40, seed=8, **kw)
    assert len(set(a)) == 3 and all(len(s) == 40 and set(s) <= set("ACGT") for s in a)


def _freqs(logits, sampling, n=40_000):
    noise = torch.rand(n, generator=torch.Generator().manual_seed(0))
    tok = sample_next(logits.expand(n, -1), noise, sampling)
    return torch.bincount(tok, minlength=8).double() / n


def test_sampling_distribution_top_k_top_p():
    logits = torch.tensor([[0.5, 2.0, -1.0, 1.0, 9.0, 9.0, 9.0, 9.0]])  # N and specials most likely: never drawn
    p = torch.softmax(logits[0, :4] / 0.7, -1)
    f = _freqs(logits, Sampling(temperature=0.7))
    assert f[4:].sum() == 0
    torch.testing.assert_close(f[:4], p.double(), atol=0.01, rtol=0)
    f = _freqs(logits, Sampling(temperature=0.7, top_k=2))  # C and T only, renormalised
    q = torch.zeros(4, dtype=torch.float64)
    q[[1, 3]] = p[[1, 3]].double() / p[[1, 3]].sum()
    torch.testing.assert_close(f[:4], q, atol=0.01, rtol=0)
    # top-p below C's probability keeps C alone; just above it keeps C and T
    assert _freqs(logits, Sampling(temperature=0.7, top_p=float(p[1]) - 0.01))[1] == 1
    torch.testing.assert_close(_freqs(logits, Sampling(temperature=0.7, top_p=float(p[1]) + 0.01))[:4], q, atol=0.01, rtol=0)
    # with top-k, top-p is taken of the renormalised top-k mass (as mamba-ssm and transformers do)
    q_c = float(q[1])
    assert _freqs(logits, Sampling(temperature=0.7, top_k=2, top_p=q_c - 0.01))[1] == 1
    torch.testing.assert_close(_freqs(logits, Sampling(temperature=0.7, top_k=2, top_p=q_c + 0.01))[:4], q, atol=0.01,
                               rtol=0)
    assert _freqs(logits, Sampling(temperature=0))[1] == 1


def test_bad_settings_and_bidirectional_models_refused():
    with pytest.raises(GenomambaError, match="top_k"):
        Sampling(top_k=5)
    with pytest.raises(GenomambaError, match="top_p"):
        Sampling(top_p=0)
    with pytest.raises(GenomambaError, match="temperature"):
        Sampling(temperature=-1)
    with pytest.raises(GenomambaError, match="bidirectional"):
        Decoder(tiny_mamba(bidirectional=True), 1)
    with pytest.raises(GenomambaError, match="empty"):
        gm.generate(tiny_mamba(), "", 5)
