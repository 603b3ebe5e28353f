"""`cross_validate_heads` on the labelled fixture and on synthetic sets where the answer is known;
`write_cv_outputs` (bench_vep's --help: tests/test_benchmarks.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.data.splits import fold_indices
from genomamba.evaluation import CVResult, cross_validate_heads, fit_gbm, fit_logreg, write_cv_outputs
from genomamba.models import CharMambaLM, MambaConfig

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
FA, LABELLED = FIXTURES / "tiny.fa", FIXTURES / "tiny_labelled.vcf"


@pytest.fixture(scope="module")
def backbone() -> CharMambaLM:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2)).eval()


def test_sklearn_baselines_use_the_same_frozen_features(backbone, tmp_path):
    res = cross_validate_heads(backbone, FA, LABELLED, label="LABEL", positive=["1"], negative=["0"], folds=2,
                               block_size=50, window=32, head_epochs=0, gbm_iter=5, progress=False)
    assert isinstance(res, CVResult)
    feats, pred = res.features, res.predictions
    y, fold_of = pred["label"].to_numpy(), pred["fold"].to_numpy()
    assert feats.shape == (36, 6 * 16) and np.isfinite(feats).all()
    assert "mlp_head" not in res.methods and "markov_llr" not in res.methods
    # the features are what the head computes, and the baselines were fitted on exactly these
    for f in range(2):
        tr, te = fold_indices(fold_of, f)
        assert np.allclose(fit_logreg(feats[tr], y[tr], feats[te], 0), pred["logreg"].to_numpy()[te])
        assert np.allclose(fit_gbm(feats[tr], y[tr], feats[te], 5, 0), pred["gbm"].to_numpy()[te])
    # blocks never straddle train and test
    blocks = {}
    for c, pos, f in zip(pred["chrom"], pred["pos"], fold_of):
        assert blocks.setdefault((c, (pos - 1) // 50), f) == f
    # the summary table is the per-fold metrics' mean and the figure has one line per method
    for m in res.methods:
        au = [row["methods"][m]["auroc"] for row in res.folds]
        assert res.summary.loc[m, "auroc_mean"] == pytest.approx(np.nanmean(au))
    labelled_lines = [ln for ln in res.figure.axes[0].get_lines() if not ln.get_label().startswith("_")]
    assert len(labelled_lines) == len(res.methods)


def test_model_directory_equals_loaded_model_and_outputs(backbone, tmp_path):
    model_dir = backbone.save_pretrained(tmp_path / "backbone")
    kw = dict(label="CONSEQUENCE", positive="nonsense", folds=2,  # a str is one value, not its letters
              block_size=50, window=16, head_epochs=2, gbm_iter=0,
              context_baselines=(2,), progress=False, device="cpu")
    a = cross_validate_heads(model_dir, FA, LABELLED, **kw)
    b = cross_validate_heads(backbone, FA, LABELLED, **kw)
    assert a.predictions.equals(b.predictions)
    assert a.metrics["classes"] == ["other", "nonsense"] and a.metrics["n_positive"] == 7
    assert a.metrics["model_dir"] == str(model_dir) and b.metrics["model_dir"] == "<CharMambaLM>"
    paths = write_cv_outputs(a, tmp_path / "cv", command="test")
    assert [p.name for p in paths] == ["metrics.json", "metrics.md", "roc.png", "predictions.tsv"]
    rows = paths[3].read_text().splitlines()
    assert rows[0].split("\t") == list(a.predictions.columns)
    first = a.predictions.iloc[0]
    assert rows[1].split("\t")[:6] == [str(first[c]) for c in ("chrom", "pos", "ref", "alt", "label", "fold")]
    assert float(rows[1].split("\t")[6]) == pytest.approx(first["logreg"], abs=1e-6)


def _synthetic(tmp_path: Path, rule, n_per_chrom: int = 300, seed: int = 0) -> tuple[Path, Path]:
    """Random 2-contig genome with an SNV every 10 bp; label = rule(ref sequence, start, rng)."""
    rng = np.random.default_rng(seed)
    fa, vcf = tmp_path / "syn.fa", tmp_path / "syn.vcf"
    fasta, body = [], []
    for c in ("s1", "s2"):
        seq = "".join(rng.choice(list("ACGT"), 10 * n_per_chrom + 20))
        fasta += [f">{c}", seq]
        for start in range(10, 10 * n_per_chrom + 10, 10):
            alt = next(b for b in "ACGT" if b != seq[start])
            body.append(f"{c}\t{start + 1}\t.\t{seq[start]}\t{alt}\t.\t.\tY={rule(seq, start, rng)}")
    fa.write_text("\n".join(fasta) + "\n")
    vcf.write_text("##fileformat=VCFv4.2\n##INFO=<ID=Y,Number=1,Type=Integer,Description=\"label\">\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "\n".join(body) + "\n")
    return fa, vcf


def _auroc(backbone, fa, vcf, ks) -> dict[str, float]:
    res = cross_validate_heads(backbone, fa, vcf, label="Y", positive=["1"], folds=3, block_size=200, window=8,
                               head_epochs=0, gbm_iter=0, context_baselines=ks, progress=False, device="cpu")
    return res.summary["auroc_pooled"].to_dict()


def test_context_baseline_learns_what_the_context_decides(backbone, tmp_path):
    # label: the base 2 bp to the right is G or C. Inside +-3 bp: learnable; outside +-1 bp: invisible
    fa, vcf = _synthetic(tmp_path, lambda seq, s, rng: int(seq[s + 2] in "GC"))
    au = _auroc(backbone, fa, vcf, (3, 1))
    assert au["context_k3"] > 0.95, au
    assert abs(au["context_k1"] - 0.5) < 0.12, au


def test_context_baseline_is_chance_on_random_labels(backbone, tmp_path):
    fa, vcf = _synthetic(tmp_path, lambda seq, s, rng: int(rng.random() < 0.5))
    au = _auroc(backbone, fa, vcf, (3,))
    assert abs(au["context_k3"] - 0.5) < 0.12, au


def test_comma_separated_classes_mean_what_a_list_means(backbone):
    """`positive="nonsense,missense"` is two values (the rule of `evaluate` and the CLIs), not one unknown one."""
    kw = dict(label="CONSEQUENCE", folds=2, block_size=50, window=16, head_epochs=0, gbm_iter=0,
              context_baselines=(), progress=False, device="cpu")
    a = cross_validate_heads(backbone, FA, LABELLED, positive="nonsense, missense", negative="synonymous", **kw)
    b = cross_validate_heads(backbone, FA, LABELLED, positive=["nonsense", "missense"], negative=["synonymous"], **kw)
    assert a.predictions.equals(b.predictions)
    assert a.metrics["n_positive"] == 14 and len(a.predictions) == 22
