"""Broken model directories: one-line `GenomambaError`s naming the file (and tensor), never a
safetensors/JSON/torch traceback or a model that silently scores NaN (issue 9 items 10 and 14)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from genomamba.device import resolve_device
from genomamba.errors import ConfigError, GenomambaError
from genomamba.models import CharMambaLM, HeadConfig, MambaConfig, MarkovLM, VariantEffectModel, load_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _one_line(exc: pytest.ExceptionInfo, *names: object) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for name in names:
        assert str(name) in msg, msg
    return msg


@pytest.fixture
def lm_dir(tmp_path) -> Path:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4, scan_backend="ref")).save_pretrained(tmp_path / "lm")


@pytest.fixture
def markov_dir(tmp_path) -> Path:
    return MarkovLM.fit([FIXTURES / "tiny.fa"], k=2, progress=False).save_pretrained(tmp_path / "markov")


@pytest.fixture
def head_dir(lm_dir, tmp_path) -> Path:
    head = VariantEffectModel.from_backbone(lm_dir, HeadConfig(window=32, hidden_dim=8))
    return head.save_pretrained(tmp_path / "head", embed_backbone=True)


def _rewrite(path: Path, edit) -> None:
    tensors = load_file(path / "model.safetensors")
    edit(tensors)
    save_file(tensors, str(path / "model.safetensors"))


@pytest.mark.parametrize("kind", ["lm", "markov", "head"])
@pytest.mark.parametrize("damage", ["empty", "truncated", "missing", "garbage"])
def test_unreadable_weights(kind, damage, lm_dir, markov_dir, head_dir):
    path = {"lm": lm_dir, "markov": markov_dir, "head": head_dir}[kind]
    weights = path / "model.safetensors"
    data = weights.read_bytes()
    if damage == "missing":
        weights.unlink()
    else:
        weights.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"\x00" * 4096}[damage])
    with pytest.raises(GenomambaError) as exc:
        load_model(path)
    _one_line(exc, weights)


def test_shapes_disagree_with_config(lm_dir):
    cfg = json.loads((lm_dir / "config.json").read_text())
    cfg["model"]["d_model"] = 32
    (lm_dir / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenomambaError, match="shape") as exc:
        load_model(lm_dir)
    _one_line(exc, lm_dir / "model.safetensors", "embedding.weight", "config.json")


def test_missing_and_unexpected_tensors(lm_dir):
    _rewrite(lm_dir, lambda t: t.pop("norm_f.weight"))
    with pytest.raises(GenomambaError, match="missing") as exc:
        load_model(lm_dir)
    _one_line(exc, lm_dir / "model.safetensors", "norm_f.weight")
    _rewrite(lm_dir, lambda t: t.update({"norm_f.weight": torch.ones(16), "extra.bias": torch.zeros(3)}))
    with pytest.raises(GenomambaError, match="unexpected") as exc:
        load_model(lm_dir)
    _one_line(exc, lm_dir / "model.safetensors", "extra.bias")


def test_markov_counts_of_the_wrong_shape_or_sign(markov_dir):
    _rewrite(markov_dir, lambda t: t.update({"counts.1": torch.zeros(3, 4, dtype=torch.int64)}))
    with pytest.raises(GenomambaError, match="shape") as exc:
        load_model(markov_dir)
    _one_line(exc, markov_dir / "model.safetensors", "counts.1")
    _rewrite(markov_dir, lambda t: t.update({"counts.1": -torch.ones(4, 4, dtype=torch.int64)}))
    with pytest.raises(GenomambaError, match="negative") as exc:
        load_model(markov_dir)
    _one_line(exc, markov_dir / "model.safetensors", "counts.1")


def test_head_tensor_shapes_disagree(head_dir):
    cfg = json.loads((head_dir / "config.json").read_text())
    cfg["head"]["hidden_dim"] = 9
    (head_dir / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenomambaError, match="shape") as exc:
        load_model(head_dir)
    _one_line(exc, head_dir / "model.safetensors", "head.1.weight")


@pytest.mark.parametrize("text", ['{"model_type": "char_mamba", "model": {', "", "[1, 2]", '{"model": 3}'])
def test_bad_config_json(lm_dir, text):
    (lm_dir / "config.json").write_text(text)
    with pytest.raises(GenomambaError) as exc:
        load_model(lm_dir)
    _one_line(exc, lm_dir / "config.json")


def test_bad_json_names_line_and_column(lm_dir):
    (lm_dir / "config.json").write_text('{\n  "model_type": "char_mamba",\n  "model": {,}\n}\n')
    with pytest.raises(GenomambaError, match="line 3") as exc:
        load_model(lm_dir)
    _one_line(exc, lm_dir / "config.json")


@pytest.mark.parametrize("kind", ["lm", "markov", "head"])
def test_unknown_or_invalid_config_key_names_key_and_file(kind, lm_dir, markov_dir, head_dir):
    path, section = {"lm": (lm_dir, "model"), "markov": (markov_dir, "model"), "head": (head_dir, "head")}[kind]
    cfg = json.loads((path / "config.json").read_text())
    cfg[section]["d_modle"] = 3
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="d_modle") as exc:
        load_model(path)
    _one_line(exc, path / "config.json")
    del cfg[section]["d_modle"]
    key = {"lm": "n_layer", "markov": "k", "head": "num_classes"}[kind]
    cfg[section][key] = -1
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=key) as exc:
        load_model(path)
    _one_line(exc, path / "config.json")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("kind", ["lm", "head-backbone", "head"])
def test_non_finite_weights(kind, value, lm_dir, head_dir):
    path, name = {"lm": (lm_dir, "layers.1.mixer.A_log"), "head-backbone": (head_dir, "backbone.layers.0.mixer.D"),
                  "head": (head_dir, "head.0.weight")}[kind]

    def poison(t):
        t[name] = t[name].clone()
        t[name].view(-1)[1] = value

    _rewrite(path, poison)
    with pytest.raises(GenomambaError, match="NaN or inf") as exc:
        load_model(path)
    _one_line(exc, path / "model.safetensors", name)


def test_referenced_backbone_is_checked_too(lm_dir, tmp_path):
    head = VariantEffectModel.from_backbone(lm_dir, HeadConfig(window=32, hidden_dim=8))
    head_dir = head.save_pretrained(tmp_path / "ref_head")  # frozen: backbone referenced by path + sha256
    moved = tmp_path / "moved"
    lm_dir.rename(moved)
    _rewrite(moved, lambda t: t["norm_f.weight"].fill_(float("nan")))
    cfg = json.loads((head_dir / "config.json").read_text())
    cfg["backbone"]["sha256"] = hashlib.sha256((moved / "model.safetensors").read_bytes()).hexdigest()
    (head_dir / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenomambaError, match="NaN or inf") as exc:
        VariantEffectModel.from_pretrained(head_dir, backbone_dir=moved)
    _one_line(exc, moved / "model.safetensors", "norm_f.weight")


def test_load_model_device_auto(lm_dir, markov_dir, head_dir):
    for path in (lm_dir, markov_dir, head_dir):
        model = load_model(path, device="auto")
        assert model.training is False
        devices = {p.device for p in model.parameters()} | {b.device for b in model.buffers()}
        assert devices == {resolve_device("auto")}, devices


def test_missing_model_directory(tmp_path):
    with pytest.raises(GenomambaError) as exc:
        load_model(tmp_path / "nowhere")
    _one_line(exc, tmp_path / "nowhere")


def test_good_directories_still_load_identically(lm_dir, markov_dir):
    x = torch.from_numpy(np.arange(40) % 4)[None]
    torch.manual_seed(0)
    fresh = CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4, scan_backend="ref")).eval()
    assert torch.equal(load_model(lm_dir, device="cpu")(x), fresh(x))
    assert torch.isfinite(load_model(markov_dir)(x)).all()
