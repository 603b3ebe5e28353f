"""`vep-cv` on the labelled fixture (2 folds) and `score_with_head` on the scoring fixture
(the library it calls: tests/evaluation/test_cross_validation.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.cli import vep
from genomamba.io.vcf import read_variants
from genomamba.models import CharMambaLM, MambaConfig, MarkovLM
from genomamba.models.variant_effect import HeadConfig, VariantEffectModel
from genomamba.scoring.head_scoring import INFO_KEY, HeadScorer, score_with_head
from genomamba.scoring.zero_shot import REF_MISMATCH

FIXTURES = Path(__file__).parents[1] / "fixtures"
FA, LABELLED = FIXTURES / "tiny.fa", FIXTURES / "tiny_labelled.vcf"


@pytest.fixture
def backbone_dir(tmp_path) -> Path:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2, scan_backend="ref")).save_pretrained(tmp_path / "backbone")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="genomamba-score")
    vep.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_vep_cv_two_folds(backbone_dir, tmp_path, capsys):
    markov = MarkovLM.fit([FA], k=2, progress=False).save_pretrained(tmp_path / "markov")
    out = tmp_path / "cv"
    args = _parse(["vep-cv", str(backbone_dir), str(FA), str(LABELLED), "--label", "LABEL", "--positive", "1",
                   "--negative", "0", "--folds", "2", "--block-size", "50", "--window", "32", "-o", str(out),
                   "--markov", str(markov), "--finetune-epochs", "3", "--gbm-iter", "5"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert "| logistic regression" in captured.out and "| logistic regression (one-hot ±10 bp context) |" in captured.out
    # stderr is no terminal here: one line per stage instead of bars (it used to print nothing for minutes)
    for line in ("features: 36/36 variants done", "zero-shot model: 36/36 variants done",
                 "zero-shot markov: 36/36 variants done", "folds: 2/2 folds done"):
        assert line in captured.err, captured.err
    for name in ("metrics.json", "metrics.md", "roc.png", "predictions.tsv"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    methods = {"logreg", "gbm", "mlp_head", "zeroshot_llr", "zeroshot_delta", "markov_llr", "markov_delta",
               "context_k3", "context_k10"}  # the one-hot context baselines are on by default
    assert set(metrics["summary"]) == methods
    assert metrics["n_variants"] == 36 and len(metrics["folds"]) == 2
    for row in metrics["folds"]:
        assert row["n_train"] + row["n_test"] == 36
        for m in methods:
            assert 0.0 <= row["methods"][m]["auroc"] <= 1.0, (row["fold"], m)
    table = (out / "metrics.md").read_text()
    assert table.count("\n| ") == 2 + len(methods) and "±" in table  # header, rule, one row per method
    rows = (out / "predictions.tsv").read_text().splitlines()
    assert len(rows) == 37 and rows[0].split("\t")[:6] == ["chrom", "pos", "ref", "alt", "label", "fold"]


def test_vep_cv_cache_dir(backbone_dir, tmp_path, capsys, monkeypatch):
    from genomamba.evaluation import cross_validation

    cache = tmp_path / "cache"
    argv = ["vep-cv", str(backbone_dir), str(FA), str(LABELLED), "--label", "LABEL", "--positive", "1",
            "--folds", "2", "--block-size", "50", "--window", "32", "--finetune-epochs", "2", "--gbm-iter", "0",
            "--context-baselines", "none", "--cache-dir", str(cache)]
    args = _parse([*argv, "-o", str(tmp_path / "a")])
    assert args.func(args) == 0
    assert "backbone: wrote cache" in capsys.readouterr().err and len(list(cache.glob("backbone-*.npz"))) == 1

    def boom(*a, **k):
        raise AssertionError("model loaded although cached")

    monkeypatch.setattr(cross_validation, "load_model", boom)
    args = _parse([*argv, "-o", str(tmp_path / "b")])
    assert args.func(args) == 0
    assert "backbone: 36 variants read from cache" in capsys.readouterr().err
    assert (tmp_path / "a" / "predictions.tsv").read_text() == (tmp_path / "b" / "predictions.tsv").read_text()
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["cache"]["backbone"]["read"] is True and metrics["settings"]["cache_dir"] == str(cache)


def test_vep_cv_reports_bad_input(backbone_dir, tmp_path, capsys):
    args = _parse(["vep-cv", str(backbone_dir), str(FA), str(LABELLED), "--label", "LABEL", "--positive", "1",
                   "--folds", "5", "--block-size", "1000", "-o", str(tmp_path / "cv")])
    assert args.func(args) == 1
    assert "blocks for 5 folds" in capsys.readouterr().err
    assert not (tmp_path / "cv" / "metrics.json").exists()


def test_vep_cv_context_baselines_option(backbone_dir, tmp_path, capsys):
    out = tmp_path / "cv"
    args = _parse(["vep-cv", str(backbone_dir), str(FA), str(LABELLED), "--label", "LABEL", "--positive", "1",
                   "--folds", "2", "--block-size", "50", "--window", "32", "-o", str(out), "--finetune-epochs", "0",
                   "--gbm-iter", "0", "--context-baselines", "1", "-q"])
    assert args.func(args) == 0
    assert capsys.readouterr().err.count("\n") == 1  # -q: only the "wrote" line
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["summary"]) == ["logreg", "zeroshot_llr", "zeroshot_delta", "context_k1"]
    assert metrics["settings"]["context_baselines"] == [1]
    with pytest.raises(SystemExit):
        _parse(["vep-cv", "m", "r", "v", "--label", "L", "--positive", "1", "-o", "o", "--context-baselines", "3,x"])
    args = _parse(["vep-cv", "m", "r", "v", "--label", "L", "--positive", "1", "-o", "o", "--context-baselines", "none"])
    assert args.context_baselines == ()


def test_score_with_head_matches_the_head_and_flags_mismatches(backbone_dir, tmp_path):
    torch.manual_seed(2)
    head = VariantEffectModel.from_backbone(backbone_dir, HeadConfig(window=32))
    head_dir = head.save_pretrained(tmp_path / "head")
    probs = score_with_head(head_dir, FA, FIXTURES / "tiny.vcf")
    _, records = read_variants(FIXTURES / "tiny.vcf")
    recs = list(records)
    assert len(probs) == len(recs)
    for rec, p in zip(recs, probs):
        assert p.shape == (len(rec.alts), 2)
        if rec.fields[2] == "mismatch1":
            assert np.isnan(p).all()
        else:
            assert np.isfinite(p).all() and np.allclose(p.sum(1), 1.0)
    # streaming annotation: INFO GM_HEAD (Number=A) and the zero-shot FILTER for a REF mismatch
    scorer = HeadScorer(head_dir, FA, batch_size=3, chunk=4)
    annotated = list(scorer.score(read_variants(FIXTURES / "tiny.vcf")[1]))
    assert "Number=A" in scorer.info_header_lines()[0]
    for rec, p in zip(annotated, probs):
        if rec.fields[2] == "mismatch1":
            assert REF_MISMATCH in rec.filters and INFO_KEY not in rec.info
        else:
            values = [float(v) for v in rec.info[INFO_KEY].split(",")]
            assert np.allclose(values, p[:, 1], atol=1e-6)


def test_metrics_json_records_the_command_given_to_main(backbone_dir, tmp_path, monkeypatch):
    """metrics.json's command is the argv `genomamba-score`'s main got, not the process's sys.argv (which
    is pytest's here, or a notebook's when main is called from Python)."""
    from genomamba.cli.score import main

    monkeypatch.setattr("sys.argv", ["python", "-m", "something-else", "--flag"])
    out = tmp_path / "cv"
    argv = ["vep-cv", str(backbone_dir), str(FA), str(LABELLED), "--label", "LABEL", "--positive", "1",
            "--folds", "2", "--block-size", "50", "--window", "32", "--finetune-epochs", "1", "--gbm-iter", "0",
            "--context-baselines", "none", "-q", "-o", str(out)]
    assert main(argv) == 0
    command = json.loads((out / "metrics.json").read_text())["command"]
    assert command.split() == ["genomamba-score", *argv]
