"""Binary metrics of variant scores, written once: AUROC and AUPRC (scikit-learn), ROC points,
per-class tables for `evaluate`, mean ± sd over cross-validation folds, text and markdown
summaries, and a JSON sanitiser (JSON has no NaN). Score direction: higher = positive."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "binary_metrics", "roc_points", "evaluate_scores", "summary_lines", "fold_summary", "markdown_table",
    "fmt", "mean_sd", "jsonable",
]


def binary_metrics(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """AUROC and AUPRC of `score` (higher = positive) against 0/1 labels `y` `[n]`.

    Non-finite scores are dropped; both metrics are NaN when fewer than two classes remain.

    Returns:
        {"auroc", "auprc", "n"} (n: rows with a finite score).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, score = np.asarray(y), np.asarray(score, dtype=float)
    ok = np.isfinite(score)
    y, score = y[ok], score[ok]
    if len(np.unique(y)) < 2:
        return {"auroc": math.nan, "auprc": math.nan, "n": int(len(y))}
    return {"auroc": float(roc_auc_score(y, score)), "auprc": float(average_precision_score(y, score)), "n": int(len(y))}


def roc_points(y: np.ndarray, score: np.ndarray) -> tuple[list[float], list[float]]:
    """(false positive rates, true positive rates) of the ROC curve; empty lists with one class."""
    from sklearn.metrics import roc_curve

    y, score = np.asarray(y), np.asarray(score, dtype=float)
    ok = np.isfinite(score)
    if len(np.unique(y[ok])) < 2:
        return [], []
    fpr, tpr, _ = roc_curve(y[ok], score[ok])
    return fpr.tolist(), tpr.tolist()


def evaluate_scores(
    labels: Sequence[str | None],
    values: Mapping[str, Sequence[float]],
    positives: Sequence[str],
    negatives: Sequence[str] | None = None,
    higher_is_positive: bool = False,
) -> dict:
    """AUROC and AUPRC of every score for every positive class (and their union) vs negatives.

    Args:
        labels: one label per row (None: unlabelled). values: {score name: `[rows]`}, NaN = missing.
        positives: positive label values, one class each (plus their union `a+b` when several).
        negatives: negative label values (default: every labelled row that is not positive).
        higher_is_positive: False: lower score = positive (metrics on -score).

    Returns:
        {"direction", "negatives", "classes": {class: {score: {"n_pos", "n_neg", "n_missing",
        "auroc", "auprc", "fpr", "tpr"}}}}; metrics are None when a class has no positives or no
        negatives with a score.
    """
    labels_arr = np.array([lab if lab is not None else "" for lab in labels], dtype=object)
    if negatives:
        neg_mask = np.isin(labels_arr, list(negatives))
    else:
        neg_mask = (labels_arr != "") & ~np.isin(labels_arr, list(positives))
    classes = {p: [p] for p in positives}
    if len(positives) > 1:
        classes["+".join(positives)] = list(positives)
    out: dict = {
        "direction": "higher score = positive" if higher_is_positive else "lower score = positive (computed on -score)",
        "negatives": list(negatives) if negatives else "every labelled non-positive row",
        "classes": {},
    }
    for cname, members in classes.items():
        pos_mask = np.isin(labels_arr, members)
        out["classes"][cname] = {}
        for sname, vals in values.items():
            v = np.asarray(vals, dtype=float)
            keep = (pos_mask | neg_mask) & np.isfinite(v)
            y = pos_mask[keep].astype(int)
            x = v[keep] if higher_is_positive else -v[keep]
            m: dict = {"n_pos": int(y.sum()), "n_neg": int((1 - y).sum()),
                       "n_missing": int(((pos_mask | neg_mask) & ~np.isfinite(v)).sum())}
            b = binary_metrics(y, x)
            if math.isfinite(b["auroc"]):
                fpr, tpr = roc_points(y, x)
                m.update(auroc=b["auroc"], auprc=b["auprc"], fpr=fpr, tpr=tpr)
            else:
                m.update(auroc=None, auprc=None, fpr=[], tpr=[])
            out["classes"][cname][sname] = m
    return out


def summary_lines(metrics: dict) -> list[str]:
    """One line per class and score of an `evaluate_scores` result, the class and score columns
    padded to their longest name (a union class `a+b+c` is long), so the numbers line up."""
    classes = metrics["classes"]
    cw = max((len(c) for c in classes), default=0)
    sw = max((len(s) for per in classes.values() for s in per), default=0)
    return [
        f"{cname:>{cw}} {sname:>{sw}}: AUROC {_f4(m['auroc'])} AUPRC {_f4(m['auprc'])} (pos {m['n_pos']}, "
        f"neg {m['n_neg']}, missing {m['n_missing']})"
        for cname, per in classes.items() for sname, m in per.items()
    ]


def fold_summary(per_fold: Sequence[dict], y: np.ndarray, oof: Mapping[str, np.ndarray]) -> dict[str, dict]:
    """Per method: mean and sd (ddof 1) over folds of AUROC/AUPRC, and both on the pooled out-of-fold scores.

    Args:
        per_fold: rows with "methods": {method: `binary_metrics`}. y: labels `[n]`.
        oof: {method: out-of-fold scores `[n]`}.
    """
    summary = {}
    for m in oof:
        au = np.array([r["methods"][m]["auroc"] for r in per_fold], dtype=float)
        ap = np.array([r["methods"][m]["auprc"] for r in per_fold], dtype=float)
        pooled = binary_metrics(y, oof[m])
        summary[m] = {"auroc_mean": _nanmean(au), "auroc_sd": _nansd(au), "auprc_mean": _nanmean(ap),
                      "auprc_sd": _nansd(ap), "auroc_pooled": pooled["auroc"], "auprc_pooled": pooled["auprc"]}
    return summary


def markdown_table(summary: Mapping[str, dict], n: int, n_pos: int, folds: int,
                   name: Callable[[str], str] = str) -> str:
    """The `fold_summary` as a markdown table, one row per method (`name` gives its display name)."""
    lines = [
        f"{n} variants ({n_pos} positive), {folds}-fold position-blocked CV; mean ± sd over folds",
        "",
        "| method | AUROC | AUPRC | pooled AUROC |",
        "| --- | --- | --- | --- |",
    ]
    for m, s in summary.items():
        lines.append(f"| {name(m)} | {mean_sd(s['auroc_mean'], s['auroc_sd'])} | "
                     f"{mean_sd(s['auprc_mean'], s['auprc_sd'])} | {fmt(s['auroc_pooled'])} |")
    return "\n".join(lines) + "\n"


def fmt(v: float | None, digits: int = 3) -> str:
    """`v` with `digits` decimals; "." when missing (None or NaN), as in a VCF."""
    return "." if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def mean_sd(mean: float, sd: float) -> str:
    """"0.812 ± 0.031"; just the mean without an sd; "n/a" without a mean."""
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.3f} ± {sd:.3f}" if math.isfinite(sd) else f"{mean:.3f}"


def jsonable(x):
    """`x` with NaN/inf -> None, numpy scalars -> Python numbers and tuples -> lists (for json.dumps)."""
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _f4(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:.4f}"


def _nanmean(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else math.nan


def _nansd(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.std(ddof=1)) if len(a) > 1 else math.nan
