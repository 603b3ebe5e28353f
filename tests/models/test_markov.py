"""MarkovLM: fitting on tiny.fa, normalisation, N fall-back, chunked == one pass, model-dir round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.alphabet import N, encode, reverse_complement
from genomamba.errors import ConfigError, GenomambaError
from genomamba.models import CharMambaLM, MambaConfig, MarkovLM, load_model
from genomamba.models.markov import MarkovConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = FIXTURES / "tiny.fa"


@pytest.fixture(scope="module")
def fitted() -> MarkovLM:
    return MarkovLM.fit([TINY], k=3, alpha=0.5, progress=False)


def _tokens(seed: int, shape: tuple[int, int], n_rate: float = 0.1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 4, shape, generator=g)
    x[torch.rand(shape, generator=g) < n_rate] = N
    return x


def test_counts_match_tiny_fa(fitted):
    # tiny.fa: 387 bases, 35 of them N; order 0 counts every ACGT base once
    assert fitted.counts[0].sum() == 387 - 35
    # an order-j count needs j+1 clean bases in a row, so higher orders count no more
    totals = [int(c.sum()) for c in fitted.counts]
    assert totals == sorted(totals, reverse=True), totals
    both = MarkovLM.fit([TINY], k=3, both_strands=True, progress=False)
    assert both.counts[0].sum() == 2 * (387 - 35)
    # the reverse strand's A count is the forward strand's T count
    assert both.counts[0][0, 0] == fitted.counts[0][0, 0] + fitted.counts[0][0, 3]


def test_probabilities_sum_to_one(fitted):
    logp = fitted(_tokens(0, (3, 97)))
    assert logp.shape == (3, 97, 8)
    total = logp.double().exp().sum(-1)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-5), (total - 1).abs().max()
    assert (logp[..., 4:] < -1e3).all(), "N and specials must get probability 0"


def test_n_in_context_falls_back_to_lower_order(fitted):
    # after "ACN" the only clean context is empty: the order-0 distribution
    logp = fitted(torch.tensor([[0, 1, N]]))
    expected = fitted(torch.tensor([[N]]))[0, 0]
    assert torch.allclose(logp[0, 2], expected)
    order0 = torch.from_numpy(fitted.counts[0][0] + 0.5) / (fitted.counts[0].sum() + 4 * 0.5)
    assert torch.allclose(expected[:4].double().exp(), order0, atol=1e-6)
    # "NAC" + next: context AC (order 2) equals the same context with anything before the N
    a = fitted(torch.tensor([[N, 0, 1]]))[0, 2]
    b = fitted(torch.tensor([[3, 3, N, 0, 1]]))[0, 4]
    assert torch.equal(a, b)


def test_unseen_context_backs_off_smoothly():
    counts = [np.zeros((4**j, 4), np.int64) for j in range(3)]
    counts[0][0] = [10, 0, 0, 0]
    m = MarkovLM(MarkovConfig(k=2, alpha=1.0), counts)
    p = m(torch.tensor([[3, 3, 3]]))[0, 2, :4].exp()
    p0 = torch.tensor([11.0, 1, 1, 1]) / 14  # no order-1/2 counts: all mass from order 0
    assert torch.allclose(p, p0, atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 2, 5, 13, 64], ids=lambda c: f"chunk{c}")
def test_chunked_equals_one_pass(fitted, chunk):
    x = _tokens(1, (2, 150))
    full = fitted(x)
    state, outs = fitted.allocate_state(2), []
    for s in range(0, x.shape[1], chunk):
        out, state = fitted(x[:, s : s + chunk], state, return_state=True)
        outs.append(out)
    assert torch.equal(torch.cat(outs, 1), full)


def test_order_zero():
    m = MarkovLM.fit([TINY], k=0, progress=False)
    x = _tokens(2, (1, 20))
    full = m(x)
    out1, st = m(x[:, :7], return_state=True)
    out2 = m(x[:, 7:], st)
    assert torch.equal(torch.cat([out1, out2], 1), full)
    assert torch.allclose(full[0, 0], full[0, -1])


def test_fit_sees_the_sequence():
    # a model fitted on a repeat predicts that repeat far better than chance
    m = MarkovLM(MarkovConfig(k=2))
    m.update([encode("ACGT" * 50)])
    x = torch.from_numpy(encode("ACGTACGTACGT").astype(np.int64))[None]
    ll = m(x)[0, :-1].gather(-1, x[0, 1:, None]).squeeze(-1)
    assert (ll[2:].exp() > 0.9).all(), ll.exp()


def test_round_trip_and_load_model(fitted, tmp_path):
    d = fitted.save_pretrained(tmp_path / "markov")
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["model_type"] == "markov" and cfg["model"]["k"] == 3
    assert (d / "model.safetensors").is_file()
    loaded = load_model(d)
    assert isinstance(loaded, MarkovLM)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.counts, fitted.counts))
    x = _tokens(3, (1, 80))
    assert torch.equal(loaded(x), fitted(x))
    assert loaded.training_metadata["bases"] == 387


def test_load_model_dispatch(tmp_path):
    torch.manual_seed(0)
    lm = CharMambaLM(MambaConfig(d_model=8, n_layer=1, d_state=4))
    assert isinstance(load_model(lm.save_pretrained(tmp_path / "lm")), CharMambaLM)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text(json.dumps({"model_type": "hyena"}))
    with pytest.raises(GenomambaError, match="unknown model_type 'hyena'"):
        load_model(tmp_path / "odd")
    with pytest.raises(GenomambaError, match="not a model directory"):
        load_model(tmp_path)
    with pytest.raises(GenomambaError, match="not a markov"):
        MarkovLM.from_pretrained(tmp_path / "lm")


def test_config_validation():
    with pytest.raises(ConfigError, match="MarkovConfig.k"):
        MarkovConfig(k=13)
    with pytest.raises(ConfigError, match="MarkovConfig.alpha"):
        MarkovConfig(alpha=0)


def test_reverse_complement_counts_are_symmetric():
    m = MarkovLM.fit([TINY], k=2, both_strands=True, progress=False)
    # count of a 3-mer equals the count of its reverse complement
    c2 = m.counts[2].reshape(-1)
    for code in range(64):
        kmer = np.array([(code >> 4) & 3, (code >> 2) & 3, code & 3])
        rc = reverse_complement(kmer)
        assert c2[code] == c2[(rc[0] << 4) | (rc[1] << 2) | rc[2]]


def test_fit_progress_off_a_terminal_is_lines(capsys):
    """fit-markov drew tqdm's `\\r` bar into a log file; off a terminal it now reports stage lines, as
    the scorers do (genomamba.progress)."""
    model = MarkovLM.fit([TINY], k=2, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.startswith("fit-markov: 387 bp ...\n") and "fit-markov: 387/387 bp done in " in err
    assert model.training_metadata["bases"] == 387
