"""`cross_validate_heads(cache_dir=...)`: a second run with the same inputs reads the features and
zero-shot scores and never touches a model; any input that changes them makes a new cache file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.evaluation import cross_validate_heads
from genomamba.evaluation import cross_validation as cv
from genomamba.evaluation.feature_cache import model_identity
from genomamba.models.directory import file_sha256
from genomamba.models import CharMambaLM, MambaConfig, MarkovLM

FIXTURES = Path(__file__).parents[1] / "fixtures"
FA, LABELLED = FIXTURES / "tiny.fa", FIXTURES / "tiny_labelled.vcf"
KW = {"label": "LABEL", "positive": ["1"], "negative": ["0"], "folds": 2, "block_size": 50, "window": 32,
      "head_epochs": 2, "gbm_iter": 5, "context_baselines": (2,), "device": "cpu"}


@pytest.fixture(scope="module")
def backbone() -> CharMambaLM:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2)).eval()


def _boom(*args, **kwargs):
    raise AssertionError("the model was used although its outputs are cached")


def _fold_metrics(res) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in res.folds]


def _same(a, b) -> None:
    assert a.predictions.equals(b.predictions)
    assert _fold_metrics(a) == _fold_metrics(b)
    assert a.summary.equals(b.summary)
    assert np.array_equal(a.features, b.features)


def test_second_run_reads_the_cache_and_never_loads_a_model(backbone, tmp_path, monkeypatch, capsys):
    model_dir = backbone.save_pretrained(tmp_path / "backbone")
    markov = MarkovLM.fit([FA], k=2, progress=False).save_pretrained(tmp_path / "markov")
    cache = tmp_path / "cache"
    first = cross_validate_heads(model_dir, FA, LABELLED, markov=markov, cache_dir=cache, progress=True, **KW)
    err = capsys.readouterr().err
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2 and files[0].startswith("backbone-") and files[1].startswith("markov-")
    assert all(f.endswith(".npz") for f in files)  # no temporary file left beside them
    assert first.metrics["cache"]["backbone"]["read"] is False and first.metrics["cache"]["markov"]["read"] is False
    assert "backbone: wrote cache" in err and "markov: wrote cache" in err
    # one stage line per fold, with each fitted method's seconds
    fold_lines = [ln for ln in err.splitlines() if ln.startswith("folds: ") and ": fold " in ln]
    assert len(fold_lines) == 2
    for ln in fold_lines:
        for m in ("logreg", "gbm", "mlp_head", "context_k2"):
            assert f"{m} " in ln and ln.split(f"{m} ")[1].split(" s")[0].replace(".", "").isdigit(), ln

    for name in ("load_model", "extract_features", "zero_shot_scores"):
        monkeypatch.setattr(cv, name, _boom)
    second = cross_validate_heads(model_dir, FA, LABELLED, markov=markov, cache_dir=cache, progress=True, **KW)
    err = capsys.readouterr().err
    _same(first, second)
    assert second.metrics["cache"]["backbone"]["read"] is True and second.metrics["cache"]["markov"]["read"] is True
    assert "backbone: 36 variants read from cache" in err
    assert sorted(p.name for p in cache.iterdir()) == files
    # other fold and head settings reuse the same features
    other = cross_validate_heads(model_dir, FA, LABELLED, cache_dir=cache, progress=False,
                                 **{**KW, "folds": 3, "block_size": 30, "head_epochs": 0})
    assert np.array_equal(other.features, first.features) and other.metrics["cache"]["backbone"]["read"]


def test_a_loaded_model_is_not_run_on_a_cache_hit(backbone, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = cross_validate_heads(backbone, FA, LABELLED, cache_dir=cache, progress=False, **KW)
    monkeypatch.setattr(backbone, "forward", _boom)
    monkeypatch.setattr(backbone, "hidden_states", _boom)
    second = cross_validate_heads(backbone, FA, LABELLED, cache_dir=cache, progress=False, **KW)
    _same(first, second)
    assert second.metrics["cache"]["backbone"]["read"]


def test_changed_inputs_never_reuse_the_cache(backbone, tmp_path):
    cache = tmp_path / "cache"
    kw = dict(KW, head_epochs=0, gbm_iter=0, context_baselines=())  # only the features matter here
    base = cross_validate_heads(backbone, FA, LABELLED, cache_dir=cache, progress=False, **kw)
    runs = {
        "window": dict(kw, window=16),
        "strands": dict(kw, strands="forward"),
        "limit": dict(kw, limit=30),
        "selection": dict(kw, label="CONSEQUENCE", positive=["nonsense"], negative=["synonymous"]),
    }
    for name, run_kw in runs.items():
        res = cross_validate_heads(backbone, FA, LABELLED, cache_dir=cache, progress=False, **run_kw)
        assert res.metrics["cache"]["backbone"]["read"] is False, name
        if name == "window":  # what this window gives, not the cached window-32 features
            fresh = cross_validate_heads(backbone, FA, LABELLED, progress=False, **run_kw)
            assert np.array_equal(res.features, fresh.features) and not np.array_equal(res.features, base.features)
    assert len(list(cache.iterdir())) == 1 + len(runs)
    # other labels of the same variants: the same features, so the same file
    relabel = cross_validate_heads(backbone, FA, LABELLED, cache_dir=cache, progress=False,
                                   **dict(kw, label="CONSEQUENCE", positive=["nonsense"], negative=None))
    assert relabel.metrics["cache"]["backbone"]["read"] is True
    # other weights: another key
    torch.manual_seed(1)
    other = CharMambaLM(MambaConfig(d_model=16, n_layer=2)).eval()
    res = cross_validate_heads(other, FA, LABELLED, cache_dir=cache, progress=False, **kw)
    assert res.metrics["cache"]["backbone"]["read"] is False
    assert not np.array_equal(res.features, base.features)
    # the same variants on another reference (one base of chrM changed, a contig without variants)
    lines = FA.read_text().splitlines()
    lines[-1] = lines[-1][:-1] + ("A" if lines[-1][-1] != "A" else "C")
    fa2 = tmp_path / "ref2.fa"
    fa2.write_text("\n".join(lines) + "\n")
    assert file_sha256(fa2) != file_sha256(FA)
    res = cross_validate_heads(backbone, fa2, LABELLED, cache_dir=cache, progress=False, **kw)
    assert res.metrics["cache"]["backbone"]["read"] is False


def test_a_damaged_cache_file_is_recomputed(backbone, tmp_path, capsys):
    cache = tmp_path / "cache"
    first = cross_validate_heads(backbone, FA, LABELLED, cache_dir=cache, progress=False, **KW)
    (file,) = cache.iterdir()
    file.write_bytes(b"not an npz")
    second = cross_validate_heads(backbone, FA, LABELLED, cache_dir=cache, progress=True, **KW)
    assert "does not match this run; recomputing" in capsys.readouterr().err
    assert second.metrics["cache"]["backbone"]["read"] is False
    _same(first, second)
    third = cross_validate_heads(backbone, FA, LABELLED, cache_dir=cache, progress=False, **KW)
    assert third.metrics["cache"]["backbone"]["read"] is True


def test_model_identity(backbone, tmp_path):
    a = backbone.save_pretrained(tmp_path / "a")
    b = backbone.save_pretrained(tmp_path / "b")
    assert model_identity(a) == model_identity(str(b))  # the bytes, not the path
    assert model_identity(backbone) == model_identity(backbone)
    changed = CharMambaLM(MambaConfig(d_model=16, n_layer=2))
    changed.load_state_dict(backbone.state_dict())
    assert model_identity(changed) == model_identity(backbone)
    with torch.no_grad():
        next(changed.parameters()).view(-1)[0] += 1e-3
    assert model_identity(changed) != model_identity(backbone)
    changed.save_pretrained(tmp_path / "a")
    assert model_identity(a) != model_identity(b)
