"""Position-blocked cross-validation of variant-effect predictors on one labelled set (what
`genomamba-score vep-cv` runs), every method on the same folds, side by side:

    logreg       logistic regression on the frozen backbone's features (standardised, balanced)
    gbm          histogram gradient boosting on the same features (balanced)
    mlp_head     the VariantEffectModel MLP head trained on the cached features (`heads`)
    zeroshot_*   -GM_LLR and -GM_DELTA of the model (and `markov_*` of a Markov baseline), no
                 training: negated, so that a less likely ALT scores higher
    context_k*   logistic regression on the one-hot ref/alt sequence context of +-k bp: what the
                 site alone predicts, so what the language model adds is visible

Variants are assigned to folds by whole position blocks (`genomamba.data.splits`): no train and
test variant share a block. `write_cv_outputs` writes metrics.json, metrics.md, roc.png and
predictions.tsv."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from threadpoolctl import threadpool_limits

from genomamba.atomic import atomic_write_text
from genomamba.data.labelled_variants import (
    LabelledVariant,
    label_mapping,
    read_labelled_variants,
)
from genomamba.data.splits import assign_folds, fold_indices
from genomamba.device import resolve_device
from genomamba.errors import ConfigError
from genomamba.evaluation.baselines import context_onehot, fit_gbm, fit_logreg
from genomamba.evaluation.feature_cache import (
    load_or_compute,
    model_identity,
    variants_digest,
)
from genomamba.evaluation.features import extract_features, zero_shot_scores
from genomamba.evaluation.heads import train_head_on_features
from genomamba.evaluation.metrics import (
    binary_metrics,
    fmt,
    fold_summary,
    jsonable,
    markdown_table,
    roc_points,
)
from genomamba.evaluation.plots import plot_roc, save_figure
from genomamba.evaluation.report import split_values
from genomamba.io.fasta import GenomeSet
from genomamba.io.vcf import start_to_pos
from genomamba.models.lm import CharMambaLM
from genomamba.models.directory import file_sha256
from genomamba.models.loading import load_model
from genomamba.progress import stage

__all__ = ["METHOD_LABELS", "CVResult", "cross_validate_heads", "method_label", "write_cv_outputs"]

METHOD_LABELS = {
    "logreg": "logistic regression (frozen features)",
    "gbm": "gradient boosting (frozen features)",
    "mlp_head": "MLP head (frozen features)",
    "zeroshot_llr": "zero-shot -GM_LLR",
    "zeroshot_delta": "zero-shot -GM_DELTA",
    "markov_llr": "Markov zero-shot -GM_LLR",
    "markov_delta": "Markov zero-shot -GM_DELTA",
}
OUTPUTS = ("metrics.json", "metrics.md", "roc.png", "predictions.tsv")


def method_label(method: str) -> str:
    """Display name of a method key (`context_k3` -> "logistic regression (one-hot ±3 bp context)")."""
    if method.startswith("context_k") and method[len("context_k"):].isdigit():
        return f"logistic regression (one-hot ±{method[len('context_k'):]} bp context)"
    return METHOD_LABELS.get(method, method)


@dataclass
class CVResult:
    """What `cross_validate_heads` found.

    Attributes:
        summary: one row per method (index "method"): label, auroc/auprc mean and sd over folds, pooled.
        folds: per fold: fold, n_train, n_test, n_test_positive, methods: {method: binary_metrics}.
        predictions: one row per variant: chrom, pos (1-based), ref, alt, label, fold, one
            out-of-fold score column per method (higher = positive).
        figure: ROC of the out-of-fold scores pooled over folds, one line per method.
        metrics: everything metrics.json holds (inputs, read counts, settings, folds, summary, time).
        table: the markdown table (metrics.md). features: frozen features `[n, 6 * d_model]`.
    """

    summary: pd.DataFrame
    folds: list[dict] = field(repr=False)
    predictions: pd.DataFrame = field(repr=False)
    figure: Figure = field(repr=False)
    metrics: dict = field(repr=False)
    table: str = field(repr=False)
    features: np.ndarray = field(repr=False)

    @property
    def methods(self) -> list[str]:
        return list(self.summary.index)


def cross_validate_heads(
    model: str | Path | CharMambaLM,
    reference: str | Path,
    variants: str | Path,
    *,
    label: str,
    positive: str | Sequence[str],
    negative: str | Sequence[str] | None = None,
    folds: int = 5,
    block_size: int | None = 10_000,
    bed: str | None = None,
    window: int = 256,
    strands: str = "both",
    markov: str | Path | torch.nn.Module | None = None,
    head_epochs: int = 30,
    head_lr: float = 1e-3,
    head_early_stopping_min: int | None = 10_000,
    gbm_iter: int = 200,
    context_baselines: Sequence[int] = (3, 10),
    batch_size: int = 32,
    limit: int | None = None,
    seed: int = 0,
    on_ref_mismatch: str = "error",
    device: str | torch.device | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> CVResult:
    """Blocked k-fold CV of frozen-feature classifiers, zero-shot scores and context baselines.

    Args:
        model: CharMambaLM model directory or loaded model (the frozen backbone).
        reference: FASTA. variants: labelled VCF (label in INFO `label`) or TSV (column `label`).
        positive / negative: label values of class 1 / class 0 (default: every other value is 0).
        folds, block_size, bed: fold assignment (`genomamba.data.splits.assign_folds`).
        window, strands: backbone windows for features and zero-shot scores.
        markov: Markov (or any causal LM) directory or model: add its zero-shot scores.
        head_epochs: MLP head epochs (0: no head; the most, with early stopping).
        head_early_stopping_min: training rows from which the MLP head holds out 10% and stops
            once 3 epochs did not improve its loss there (None: always `head_epochs` epochs).
        gbm_iter: boosting iterations (0: no gbm).
        context_baselines: k of each one-hot +-k bp context baseline (empty: none).
        limit: a random subset of that many labelled variants. seed: folds, subset, training.
        device: default: the loaded model's device, or `resolve_device()` for a directory.
        progress: bars (terminal, notebook) or stage lines on stderr (one per fold, with each
            method's seconds).
        cache_dir: keep the backbone's features and zero-shot scores (and the Markov model's
            scores) here, one .npz per model and input set (`genomamba.evaluation.feature_cache`:
            keyed by the model's weights and config, the reference's bytes, the variants scored,
            window and strands); a later run with the same inputs reads them and never loads
            or runs the model.

    The folds' scikit-learn fits use at most `torch.get_num_threads()` BLAS and OpenMP threads.

    Raises:
        GenomambaError: bad inputs (named), e.g. a Markov model as `model`, one class, too few blocks.
    """
    t0 = time.perf_counter()
    if device is None and isinstance(model, torch.nn.Module):
        device = next(model.parameters()).device
    device = resolve_device(device)
    positive, negative = split_values(positive), None if negative is None else split_values(negative)
    mapping, class_names, _ = label_mapping(positive=positive, negative=negative)
    with GenomeSet([reference]) as genome:
        labelled, stats = read_labelled_variants(variants, label, mapping, genome, on_ref_mismatch, class_names)
        if limit is not None and limit < len(labelled):
            keep = np.sort(np.random.default_rng(seed).choice(len(labelled), limit, replace=False))
            labelled = [labelled[i] for i in keep]
        y = np.array([v.label for v in labelled], dtype=np.int64)
        if len(np.unique(y)) < 2:
            raise ConfigError(f"{variants}: need both classes, got {stats.summary()}")
        fold_of = assign_folds([v.chrom for v in labelled], [v.start for v in labelled], folds, block_size, bed, seed)
        inputs = _cache_inputs(cache_dir, reference, labelled, window, strands)
        about = {"reference": str(reference), "variants": str(variants), "label": label, "positive": positive,
                 "negative": negative, "limit": limit, "seed": seed, "device": str(device), "batch_size": batch_size}
        cache: dict[str, dict] = {}

        def backbone_arrays() -> dict[str, np.ndarray]:
            backbone = load_model(model, device=device) if isinstance(model, (str, Path)) else model.to(device)
            if not isinstance(backbone, CharMambaLM):
                raise ConfigError(f"{model}: vep-cv needs a CharMambaLM backbone (give a Markov model with --markov)")
            feats = extract_features(backbone, genome, labelled, window, strands, batch_size, device, progress)
            llr, delta = zero_shot_scores(backbone, genome, labelled, window, strands, batch_size, device, progress,
                                          desc="zero-shot model")
            return {"features": feats, "llr": llr, "delta": delta}

        def markov_arrays() -> dict[str, np.ndarray]:
            lm = load_model(markov, device=device) if isinstance(markov, (str, Path)) else markov.to(device)
            llr, delta = zero_shot_scores(lm, genome, labelled, window, strands, batch_size, device, progress,
                                          desc="zero-shot markov")
            return {"llr": llr, "delta": delta}

        fixed: dict[str, np.ndarray] = {}  # scores that need no training
        for prefix, kind, lm, compute in (("zeroshot", "backbone", model, backbone_arrays),
                                          ("markov", "markov", markov, markov_arrays)):
            if lm is None:
                continue
            key = {**inputs, "model": model_identity(lm)} if cache_dir is not None else {}
            arrays, file, hit = load_or_compute(cache_dir, kind, key, labelled, compute, progress,
                                                about={**about, "model": _name(lm)})
            if file is not None:
                cache[kind] = {"file": str(file), "read": hit}
            if kind == "backbone":
                feats = arrays["features"]
            fixed[f"{prefix}_llr"], fixed[f"{prefix}_delta"] = -arrays["llr"], -arrays["delta"]
        contexts = {f"context_k{k}": context_onehot(genome, labelled, int(k)) for k in context_baselines}

    methods = (["logreg"] + (["gbm"] if gbm_iter > 0 else []) + (["mlp_head"] if head_epochs > 0 else [])
               + list(fixed) + list(contexts))
    fits = {"logreg": lambda tr, te, f: fit_logreg(feats[tr], y[tr], feats[te], seed),
            "gbm": lambda tr, te, f: fit_gbm(feats[tr], y[tr], feats[te], gbm_iter, seed),
            "mlp_head": lambda tr, te, f: train_head_on_features(feats[tr], y[tr], feats[te], epochs=head_epochs,
                                                                lr=head_lr, seed=seed + f, device=device,
                                                                early_stopping_min=head_early_stopping_min),
            **{m: (lambda tr, te, f, s=s: s[te]) for m, s in fixed.items()},
            **{m: (lambda tr, te, f, x=x: fit_logreg(x[tr], y[tr], x[te], seed)) for m, x in contexts.items()}}
    oof = {m: np.full(len(y), np.nan) for m in methods}
    per_fold = []
    # scikit-learn's OpenMP and the BLAS pools ignore torch.set_num_threads and take every core:
    # parallel runs of 3 torch threads each on 16 cores ran 16 threads each in their folds
    with stage("folds", folds, "folds", progress) as done, threadpool_limits(torch.get_num_threads()):
        for f in range(folds):
            tr, te = fold_indices(fold_of, f)
            if len(np.unique(y[tr])) < 2:
                raise ConfigError(f"fold {f}: the training split has a single class; use fewer folds or smaller blocks")
            seconds = {}
            for m in methods:
                t = time.perf_counter()
                oof[m][te] = fits[m](tr, te, f)
                seconds[m] = time.perf_counter() - t
            per_fold.append({"fold": f, "n_train": len(tr), "n_test": len(te),
                             "n_test_positive": int(y[te].sum()),
                             "methods": {m: binary_metrics(y[te], oof[m][te]) for m in methods},
                             "seconds": seconds})
            done(1, f"fold {f} ({len(tr)} train, {len(te)} test) in {sum(seconds.values()):.1f} s: "
                    + ", ".join(f"{m} {s:.1f} s" for m, s in seconds.items() if m not in fixed))

    summary = fold_summary(per_fold, y, oof)
    metrics = {
        "model_dir": _name(model), "reference": str(reference), "variants": str(variants),
        "markov_dir": _name(markov) if markov is not None else None,
        "label_key": label, "classes": class_names, "read": stats.summary(),
        "n_variants": len(y), "n_positive": int(y.sum()), "folds": per_fold, "summary": summary,
        "settings": {"folds": folds, "block_size": block_size, "bed": bed, "window": window, "strands": strands,
                     "head_epochs": head_epochs, "head_lr": head_lr, "head_early_stopping_min": head_early_stopping_min,
                     "gbm_iter": gbm_iter,
                     "context_baselines": [int(k) for k in context_baselines], "limit": limit, "seed": seed,
                     "feature_dim": int(feats.shape[1]), "device": str(device),
                     "cache_dir": str(cache_dir) if cache_dir is not None else None},
        "cache": cache,
        "seconds": time.perf_counter() - t0,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    table = markdown_table(summary, len(y), int(y.sum()), folds, name=method_label)
    frame = pd.DataFrame.from_dict(summary, orient="index")
    frame.insert(0, "label", [method_label(m) for m in frame.index])
    frame.index.name = "method"
    curves = {f"{method_label(m)} ({fmt(summary[m]['auroc_pooled'])})": roc_points(y, oof[m]) for m in methods}
    figure = plot_roc({"ROC, out-of-fold (pooled AUROC)": curves})
    return CVResult(summary=frame, folds=per_fold, predictions=_predictions(labelled, y, fold_of, oof),
                    figure=figure, metrics=metrics, table=table, features=feats)


def write_cv_outputs(result: CVResult, output: str | Path, command: str | None = None) -> list[Path]:
    """Write metrics.json (with `command`), metrics.md, roc.png and predictions.tsv into `output`, atomically."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    pred = result.predictions  # chrom, pos, ref, alt, label, fold, then one score column per method
    rows = ["\t".join(pred.columns)]
    for row in pred.itertuples(index=False):
        rows.append("\t".join([*(str(v) for v in row[:6]), *(fmt(v, 6) for v in row[6:])]))
    atomic_write_text(out / "predictions.tsv", "\n".join(rows) + "\n")
    atomic_write_text(out / "metrics.json", json.dumps(jsonable({"command": command, **result.metrics}), indent=2) + "\n")
    atomic_write_text(out / "metrics.md", result.table)
    save_figure(result.figure, out / "roc.png", dpi=120)
    return [out / name for name in OUTPUTS]


def _predictions(labelled: Sequence[LabelledVariant], y: np.ndarray, fold_of: np.ndarray,
                 oof: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({
        "chrom": [v.chrom for v in labelled], "pos": [start_to_pos(v.start) for v in labelled],
        "ref": [v.ref for v in labelled], "alt": [v.alt for v in labelled],
        "label": y.astype(int), "fold": np.asarray(fold_of).astype(int), **oof,
    })


def _cache_inputs(cache_dir, reference, labelled: Sequence[LabelledVariant], window: int, strands: str) -> dict:
    """What, besides the model, determines the features and zero-shot scores (`feature_cache`)."""
    if cache_dir is None:
        return {}
    from genomamba import __version__

    return {"reference": file_sha256(reference), "variants": variants_digest(labelled), "n_variants": len(labelled),
            "window": int(window), "strands": strands, "genomamba": __version__}


def _name(model) -> str:
    return str(model) if isinstance(model, (str, Path)) else f"<{type(model).__name__}>"
