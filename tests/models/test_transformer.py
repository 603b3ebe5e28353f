"""TransformerLM: causality, KV-cache streaming equals one pass, model directory round trip,
training through the real conf/, and `genomamba-score fasta` on it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.cli.score import main as score_main
from genomamba.cli.train import train
from genomamba.errors import ConfigError
from genomamba.io.fasta import FastaReader
from genomamba.models import TransformerConfig, TransformerLM, load_model
from tests.helpers import compose_train

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.fa"


def _model(**kw) -> TransformerLM:
    torch.manual_seed(0)
    return TransformerLM(TransformerConfig(d_model=16, n_layer=2, n_head=2, **kw)).eval()


@pytest.mark.parametrize("window", [None, 5], ids=["full", "window5"])
def test_is_causal(window):
    model = _model(context_window=window)
    x = torch.randint(0, 5, (2, 40))
    t = 17
    y = x.clone()
    y[:, t + 1 :] = torch.randint(0, 5, (2, 40 - t - 1))
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


def test_window_limits_what_a_position_sees():
    model = _model(context_window=5)
    x = torch.randint(0, 4, (1, 30))
    y = x.clone()
    y[:, :10] = (x[:, :10] + 1) % 4  # positions 0..9 changed
    with torch.no_grad():
        a, b = model(x), model(y)
    # each of the 2 layers looks back 4 positions: position p sees p-8..p, so 18 on cannot see 9
    torch.testing.assert_close(a[:, 18:], b[:, 18:])
    assert not torch.allclose(a[:, 17], b[:, 17])


@pytest.mark.parametrize("window", [None, 6], ids=["full", "window6"])
@pytest.mark.parametrize("cuts", [[1], [3, 20], [7, 8, 9, 39]], ids=["c1", "c3-20", "c7-8-9-39"])
def test_chunked_with_kv_cache_equals_one_pass(cuts, window):
    model = _model(context_window=window)
    x = torch.randint(0, 5, (2, 41))
    bounds = [0, *cuts, 41]
    with torch.no_grad():
        full = model(x)
        state, outs = model.allocate_state(2), []
        for s, e in zip(bounds[:-1], bounds[1:]):
            out, state = model(x[:, s:e], state=state, return_state=True)
            outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 1), full, rtol=1e-5, atol=1e-5)
    cached = state[0].k.shape[2]
    assert cached == (41 if window is None else window - 1)  # the cache grows, or stays bounded
    assert all(s.offset == 41 for s in state)


def test_save_and_load_round_trip(tmp_path):
    model = _model(context_window=12)
    model.save_pretrained(tmp_path / "m", metadata={"steps": 3})
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_model(tmp_path / "m", device="cpu")
    assert isinstance(loaded, TransformerLM) and loaded.config == model.config
    x = torch.randint(0, 5, (1, 30))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert loaded.lm_head.weight.data_ptr() == loaded.embedding.weight.data_ptr()
    assert loaded.training_metadata == {"steps": 3}


def test_config_derives_and_validates():
    cfg = TransformerConfig(d_model=96, n_head=3, vocab_size=9)
    assert cfg.head_dim == 32 and cfg.d_ff == 256 and cfg.vocab_size == 16
    with pytest.raises(ConfigError, match="n_head"):
        TransformerConfig(d_model=30, n_head=4)
    with pytest.raises(ConfigError, match="context_window"):
        TransformerConfig(context_window=0)
    with pytest.raises(ConfigError, match="unknown TransformerConfig keys"):
        TransformerConfig.from_dict({"d_model": 8, "d_state": 2})


def test_trains_with_the_real_conf(tmp_path):
    overrides = ["data=tiny", "model=transformer_tiny", "model.config.d_model=16", "model.config.n_layer=2",
                 "data.window=48", "data.batch_size=2", "logger=csv", "module.scheduler=null",
                 "trainer.max_steps=3", "trainer.val_check_interval=3", f"export_dir={tmp_path}/model"]
    metrics = train(compose_train(overrides, tmp_path))
    assert 1.0 < metrics["train/bpc"] < 4.0 and math.isfinite(metrics["val/bpc"])
    model = load_model(tmp_path / "model", device="cpu")
    assert isinstance(model, TransformerLM) and model.training_metadata["steps"] == 3


def test_score_fasta_streams_with_the_kv_cache(tmp_path):
    model = _model()
    model_dir = model.save_pretrained(tmp_path / "m")
    out = tmp_path / "scores.tsv"
    # chunk 64: chr1 (200 bp) and chr2 (150 bp) stream through the cache; chrM (37 bp) is batched
    assert score_main(["fasta", str(model_dir), str(TINY), "-o", str(out), "--chunk-size", "64", "-q"]) == 0
    rows = {r[0]: r for r in (line.split("\t") for line in out.read_text().splitlines()[1:])}
    assert sorted(rows) == ["chr1", "chr2", "chrM"]
    with FastaReader(TINY) as reader:
        for name, row in rows.items():
            toks = torch.from_numpy(reader.fetch_tokens(name, 0, reader.lengths[name]).astype(np.int64))[None]
            with torch.no_grad():
                logp = torch.log_softmax(model(toks).float(), -1)[0]
            ll = logp[:-1].gather(-1, toks[0, 1:, None]).squeeze(-1)
            scored = toks[0, 1:] < 4
            expected = -float(ll[scored].sum()) / math.log(2) / int(scored.sum())
            assert abs(float(row[2]) - expected) < 1e-4, (name, row, expected)
