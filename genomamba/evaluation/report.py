"""`evaluate`: AUROC/AUPRC of variant scores against labels and their ROC figure, from a scored
VCF/TSV or a DataFrame (what `genomamba-score evaluate` runs); `write_evaluation`: its folder.

Sign: a damaging variant makes the alt sequence less likely, so by default LOWER scores mean
positive (metrics on -score); `higher_is_positive=True` takes the score as it is."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from genomamba.atomic import atomic_write_text
from genomamba.errors import ConfigError
from genomamba.evaluation.metrics import evaluate_scores, jsonable
from genomamba.evaluation.plots import plot_roc, save_figure
from genomamba.evaluation.scored import read_scored

__all__ = ["evaluate", "split_values", "write_evaluation"]


def evaluate(
    scores: str | Path | pd.DataFrame,
    label: str,
    positive: str | Sequence[str],
    negative: str | Sequence[str] | None = None,
    score_columns: str | Sequence[str] = ("GM_LLR", "GM_DELTA"),
    higher_is_positive: bool = False,
) -> tuple[dict, Figure]:
    """Metrics of every score for every positive class (and their union) vs the negatives, and the ROC.

    Args:
        scores: a scored VCF/TSV path (`read_scored`) or a DataFrame with one row per ALT holding
            the `label` column and the `score_columns` (labels are compared as strings).
        label: INFO key / column of the label. positive: positive value(s), one class each: a
            sequence, or a comma-separated string ("nonsense,missense" is two classes, as on the
            command line; `split_values`).
        negative: negative value(s), the same way (default: every labelled row that is not positive).
        score_columns: score INFO keys / columns (a sequence or a comma-separated string).
        higher_is_positive: False (default): lower score = positive (e.g. GM_LLR of damaging ALTs).

    Returns:
        (metrics as `evaluate_scores` returns them plus "input", "label", "scores"; the ROC Figure,
        one panel per class, one curve per score).

    Raises:
        VcfError: a missing INFO key / column in a file. ConfigError (a ValueError): a missing
        DataFrame column; no values in `positive`; a positive value that labels no row, or
        negatives that select no row (the message names the label and the values present). A
        class whose rows all lack a score is not an error: its metrics are None (`evaluate_scores`).
    """
    cols = split_values(score_columns)
    positives = split_values(positive)
    negatives = (split_values(negative) or None) if negative is not None else None
    if isinstance(scores, pd.DataFrame):
        missing = [c for c in (label, *cols) if c not in scores.columns]
        if missing:
            raise ConfigError(f"DataFrame has no column(s) {missing} (columns: {list(scores.columns)})")
        frame, source = scores, "<DataFrame>"
    else:
        frame, source = read_scored(scores, label, cols), str(scores)
    labels = [None if _missing(v) else str(v) for v in frame[label]]
    _check_classes(labels, label, positives, negatives)
    values = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in cols}
    metrics = evaluate_scores(labels, values, positives, negatives, higher_is_positive)
    metrics.update(input=source, label=label, scores=cols)
    against = ", ".join(negatives) if negatives else "the rest"
    panels = {
        f"{cname} vs {against}": {f"{s} AUROC {m['auroc']:.3f}": (m["fpr"], m["tpr"])
                                  for s, m in per.items() if m["auroc"] is not None}
        for cname, per in metrics["classes"].items()
    }
    title = f"{Path(source).name}: {metrics['direction']}" if source != "<DataFrame>" else metrics["direction"]
    return metrics, plot_roc(panels, title=title)


def write_evaluation(metrics: dict, fig: Figure, outdir: str | Path) -> list[Path]:
    """Write `outdir/metrics.json` and `outdir/roc.png` atomically; returns their paths."""
    outdir = Path(outdir)
    paths = [outdir / "metrics.json", outdir / "roc.png"]
    atomic_write_text(paths[0], json.dumps(jsonable(metrics), indent=1) + "\n")
    save_figure(fig, paths[1], dpi=100)
    return paths


def split_values(v: str | Sequence[str]) -> list[str]:
    """Label values from a comma-separated string ("nonsense,missense" -> ["nonsense", "missense"];
    empty items dropped) or a sequence (each item one value, as a string). The one rule for
    `evaluate`'s `positive`/`negative`/`score_columns` and the CLI's `--positive`/`--negative`/`--scores`."""
    if isinstance(v, str):
        return [x for x in (x.strip() for x in v.split(",")) if x]
    return [str(x) for x in v]


def _check_classes(labels: Sequence[str | None], label: str, positives: list[str], negatives: list[str] | None) -> None:
    """ConfigError when a positive class or the negatives select no labelled row (a typo, or a
    comma string taken as one value), rather than metrics of None."""
    present = sorted({v for v in labels if v is not None})
    shown = present if len(present) <= 20 else [*present[:20], f"... ({len(present)} values)"]
    where = f"label {label!r} has values {shown}" if present else f"label {label!r} has no values in any row"
    if not positives:
        raise ConfigError(f"no positive label values given; {where}")
    absent = [p for p in positives if p not in present]
    if absent:
        raise ConfigError(f"positive value(s) {absent} select no rows; {where}")
    if negatives is not None:
        if not set(negatives) & set(present):
            raise ConfigError(f"negative value(s) {negatives} select no rows; {where}")
    elif not set(present) - set(positives):
        raise ConfigError(f"no negative rows (every labelled row is positive); {where}")


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v in ("", ".")
