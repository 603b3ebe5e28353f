"""`vep-cv` on the labelled fixture (2 folds) and `score_with_head` on the scoring fixture."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.cli import vep
from genomamba.data.splits import fold_indices
from genomamba.io.vcf import read_variants
from genomamba.models import CharMambaLM, MambaConfig, MarkovLM
from genomamba.models.variant_effect import HeadConfig, VariantEffectModel
from genomamba.scoring.head import INFO_KEY, HeadScorer, score_with_head
from genomamba.scoring.variants import REF_MISMATCH

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
    assert "| logistic regression" in capsys.readouterr().out
    for name in ("metrics.json", "metrics.md", "roc.png", "predictions.tsv"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    methods = {"logreg", "gbm", "mlp_head", "zeroshot_llr", "zeroshot_delta", "markov_llr", "markov_delta"}
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


def test_sklearn_baselines_use_the_same_frozen_features(backbone_dir, tmp_path):
    res = vep.vep_cv(backbone_dir, FA, LABELLED, tmp_path / "cv", label_key="LABEL", positive=["1"], negative=["0"],
                     folds=2, block_size=50, window=32, head_epochs=0, gbm_iter=5)
    feats, y, fold_of = res["features"], res["labels"], res["fold_of"]
    assert feats.shape == (36, 6 * 16) and np.isfinite(feats).all()
    assert "mlp_head" not in res["summary"] and "markov_llr" not in res["summary"]
    # the features are what the head computes, and the baselines were fitted on exactly these
    for f in range(2):
        tr, te = fold_indices(fold_of, f)
        assert np.allclose(vep._fit_logreg(feats[tr], y[tr], feats[te], 0), res["oof"]["logreg"][te])
        assert np.allclose(vep._fit_gbm(feats[tr], y[tr], feats[te], 5, 0), res["oof"]["gbm"][te])
    # blocks never straddle train and test
    starts = [int(r.split("\t")[1]) - 1 for r in (tmp_path / "cv" / "predictions.tsv").read_text().splitlines()[1:]]
    chroms = [r.split("\t")[0] for r in (tmp_path / "cv" / "predictions.tsv").read_text().splitlines()[1:]]
    blocks = {}
    for c, s, f in zip(chroms, starts, fold_of):
        assert blocks.setdefault((c, s // 50), f) == f


def test_vep_cv_reports_bad_input(backbone_dir, tmp_path, capsys):
    args = _parse(["vep-cv", str(backbone_dir), str(FA), str(LABELLED), "--label", "LABEL", "--positive", "1",
                   "--folds", "5", "--block-size", "1000", "-o", str(tmp_path / "cv")])
    assert args.func(args) == 1
    assert "blocks for 5 folds" in capsys.readouterr().err
    assert not (tmp_path / "cv" / "metrics.json").exists()


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
