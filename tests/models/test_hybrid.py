"""The hybrid CharMambaLM (attention at `attn_layer_idx`): the windowed attention against a dense
mask, causality, chunked and token-by-token streaming equal to one pass (across the window size),
the model directory round trip, config checks, training through the real conf/, `genomamba-score
fasta` on it, and `genomamba-convert` refusing it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genomamba.cli.convert import main as convert_main
from genomamba.cli.score import main as score_main
from genomamba.cli.train import train
from genomamba.errors import ConfigError
from genomamba.io.fasta import FastaReader
from genomamba.models import CharMambaLM, MambaConfig, load_model
from genomamba.modules import CausalSelfAttention, KVCache, MambaMixer, MixerState
from genomamba.modules.attention import windowed_attention
from tests.helpers import compose_train

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.fa"


def _model(window: int | None = 6, idx=(1,), n_layer: int = 2) -> CharMambaLM:
    torch.manual_seed(0)
    config = MambaConfig(d_model=16, n_layer=n_layer, d_state=4, attn_layer_idx=list(idx), attn_num_heads=2,
                         attn_window=window)
    return CharMambaLM(config).eval()


def test_attention_sits_at_attn_layer_idx():
    model = _model(idx=(2, 0), n_layer=3)
    assert model.config.attn_layer_idx == [0, 2]
    assert [type(layer.mixer) for layer in model.layers] == [CausalSelfAttention, MambaMixer, CausalSelfAttention]
    state = model.allocate_state(2)
    assert isinstance(state[0], KVCache) and isinstance(state[1], MixerState)


@pytest.mark.parametrize("T", [0, 5, 60])
@pytest.mark.parametrize("L", [1, 7, 40])
@pytest.mark.parametrize("window", [1, 3, 8, 50])
@pytest.mark.parametrize("block", [None, 4])
def test_windowed_attention_equals_the_dense_band_mask(T, L, window, block):
    torch.manual_seed(0)
    q = torch.randn(2, 3, L, 8)
    k, v = torch.randn(2, 3, T + L, 8), torch.randn(2, 3, T + L, 8)
    rel = torch.arange(L)[:, None] + T - torch.arange(T + L)
    dense = F.scaled_dot_product_attention(q, k, v, attn_mask=(rel >= 0) & (rel < window))
    torch.testing.assert_close(windowed_attention(q, k, v, window, block), dense, rtol=1e-5, atol=1e-5)


def test_windowed_attention_in_bf16_is_close_to_fp32():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 2, 70, 16).unbind(0)
    ref = windowed_attention(q, k, v, 9, 16)
    out = windowed_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), 9, 16)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("window", [None, 5], ids=["full", "window5"])
def test_is_causal(window):
    model = _model(window)
    x = torch.randint(0, 5, (2, 40))
    t = 17
    y = x.clone()
    y[:, t + 1 :] = (x[:, t + 1 :] + 1) % 4
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


@pytest.mark.parametrize("window", [None, 6], ids=["full", "window6"])
@pytest.mark.parametrize("cuts", [[1], [5, 6, 7], [3, 20], [12, 13, 39]], ids=["c1", "c5-6-7", "c3-20", "c12-13-39"])
def test_chunked_with_carried_state_equals_one_pass(cuts, window):
    model = _model(window)
    x = torch.randint(0, 5, (2, 41))
    bounds = [0, *cuts, 41]
    with torch.no_grad():
        full = model(x)
        state, outs = model.allocate_state(2), []
        for s, e in zip(bounds[:-1], bounds[1:]):
            out, state = model(x[:, s:e], state=state, return_state=True)
            outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 1), full, rtol=1e-5, atol=1e-5)
    cache = state[1]
    assert cache.offset == 41 and cache.k.shape[2] == (41 if window is None else window - 1)


@pytest.mark.parametrize("window", [None, 4], ids=["full", "window4"])
def test_token_by_token_with_carried_state_equals_the_parallel_forward(window):
    # what generation does: a prompt in one call, then forward(tokens[:, -1:], state) per token
    model = _model(window, idx=(0, 2), n_layer=3)
    x = torch.randint(0, 4, (2, 30))
    with torch.no_grad():
        full = model(x)
        out, state = model(x[:, :9], state=None, return_state=True)
        outs = [out]
        for t in range(9, 30):
            out, state = model(x[:, t : t + 1], state=state, return_state=True)
            outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 1), full, rtol=1e-5, atol=1e-5)
    assert all(s.k.shape[2] == (30 if window is None else window - 1) for s in (state[0], state[2]))


def test_save_and_load_round_trip(tmp_path):
    model = _model(12, idx=(0,))
    model.save_pretrained(tmp_path / "m", metadata={"steps": 3})
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["model"]
    assert saved["attn_layer_idx"] == [0] and saved["attn_window"] == 12
    loaded = load_model(tmp_path / "m", device="cpu")
    assert isinstance(loaded, CharMambaLM) and loaded.config == model.config
    x = torch.randint(0, 5, (1, 30))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert loaded.training_metadata == {"steps": 3}


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"attn_layer_idx": [2]}, "attn_layer_idx"),
        ({"attn_layer_idx": [1, 1]}, "attn_layer_idx"),
        ({"attn_layer_idx": [-1]}, "attn_layer_idx"),
        ({"attn_layer_idx": [True]}, "attn_layer_idx"),
        ({"attn_layer_idx": "1"}, "attn_layer_idx"),
        ({"attn_layer_idx": [1], "attn_num_heads": 3}, "attn_num_heads"),
        ({"attn_layer_idx": [1], "attn_num_heads": 16}, "even head_dim"),
        ({"attn_window": 0}, "attn_window"),
        ({"attn_layer_idx": [1], "bidirectional": True}, "needs a causal model"),
    ],
)
def test_config_validates_the_attention_fields(kw, match):
    with pytest.raises(ConfigError, match=match):
        MambaConfig(d_model=16, n_layer=2, **kw)


def test_config_from_json():
    cfg = MambaConfig.from_dict({"d_model": 16, "n_layer": 2, "attn_layer_idx": [1], "attn_window": None})
    assert cfg.attn_layer_idx == [1] and cfg.attn_window is None
    assert MambaConfig(d_model=30).attn_layer_idx == []  # heads need not divide a plain Mamba's width
    with pytest.raises(ConfigError, match="attn_layer_idx"):
        MambaConfig.from_dict({"attn_layer_idx": None})


def test_gradients_reach_every_parameter():
    model = _model(5).train()
    model(torch.randint(0, 5, (2, 24))).logsumexp(-1).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


def test_trains_with_the_real_conf(tmp_path):
    overrides = ["data=tiny", "model=char_hybrid_tiny", "model.config.d_model=16", "model.config.n_layer=2",
                 "model.config.attn_layer_idx=[1]", "model.config.attn_window=16", "data.window=48",
                 "data.batch_size=2", "logger=csv", "module.scheduler=null", "trainer.max_steps=3",
                 "trainer.val_check_interval=3", f"export_dir={tmp_path}/model"]
    metrics = train(compose_train(overrides, tmp_path))
    assert 1.0 < metrics["train/bpc"] < 4.0 and math.isfinite(metrics["val/bpc"])
    model = load_model(tmp_path / "model", device="cpu")
    assert isinstance(model, CharMambaLM) and model.training_metadata["steps"] == 3
    assert model.config.attn_layer_idx == [1] and isinstance(model.layers[1].mixer, CausalSelfAttention)


def test_score_fasta_streams_across_the_window(tmp_path):
    model = _model(16)
    model_dir = model.save_pretrained(tmp_path / "m")
    out = tmp_path / "scores.tsv"
    # chunk 64 > window 16: chr1 (200 bp) and chr2 (150 bp) stream with the rolling cache; chrM is batched
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


def test_convert_refuses_a_hybrid(tmp_path, capsys):
    _model().save_pretrained(tmp_path / "gm")
    assert convert_main([str(tmp_path / "gm"), str(tmp_path / "hf")]) == 1
    err = capsys.readouterr().err
    assert "hybrid CharMambaLM (attention at layers [1])" in err
    assert f"error: {tmp_path / 'gm'}: a hybrid" in err  # the source is named, not the destination
    assert not (tmp_path / "hf" / "config.json").exists()


@pytest.mark.gpu
@pytest.mark.parametrize("T", [0, 37])
def test_windowed_attention_on_cuda_bf16_matches_the_dense_mask_with_gradients(T):
    # the causal prefix, and the band mask under the memory-efficient kernel's alignment rules
    torch.manual_seed(0)
    L, W = 1000, 100
    q = torch.randn(2, 4, L, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k, v = (torch.randn(2, 4, T + L, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(2))
    rel = torch.arange(L, device="cuda")[:, None] + T - torch.arange(T + L, device="cuda")
    dense = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=(rel >= 0) & (rel < W))
    out = windowed_attention(q, k, v, W)
    torch.testing.assert_close(out.float(), dense, rtol=2e-2, atol=2e-2)
    g = torch.randn_like(dense)
    grads = torch.autograd.grad(out.float(), (q, k, v), g)
    ref = torch.autograd.grad(dense, (q, k, v), g)
    for a, b in zip(grads, ref):
        torch.testing.assert_close(a.float(), b.float(), rtol=5e-2, atol=5e-2)


@pytest.mark.gpu
def test_hybrid_trains_and_streams_on_cuda_bf16():
    torch.manual_seed(0)
    config = MambaConfig(d_model=64, n_layer=2, attn_layer_idx=[1], attn_num_heads=1, attn_window=300)
    model = CharMambaLM(config).cuda()
    x = torch.randint(0, 4, (2, 1000), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        model(x).float().logsumexp(-1).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        full = model(x).float()
        state, outs = model.allocate_state(2, "cuda"), []
        for s in range(0, 1000, 333):
            out, state = model(x[:, s : s + 333], state, return_state=True)
            outs.append(out.float())
    torch.testing.assert_close(torch.cat(outs, 1), full, rtol=5e-2, atol=5e-2)
