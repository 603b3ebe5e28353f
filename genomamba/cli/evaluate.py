"""`genomamba-score evaluate`: AUROC / AUPRC of variant scores against labels, a ROC plot, JSON.

    genomamba-score evaluate scored.vcf[.gz]|scored.tsv --label CONSEQUENCE --positive nonsense,missense
        [--negative synonymous] [--scores GM_LLR,GM_DELTA] [--higher-is-positive] -o outdir

Each positive value is one class, compared with the negatives (default: every labelled row whose
label is not a positive value); with several positive values their union is reported too, as
`a+b`. Rows are ALT alleles: a Number=A score of a multi-allelic record gives one row per ALT
(a label with as many comma-separated values as ALTs is split the same way). Rows with a
missing score (`.`: REF mismatch, unknown contig, symbolic ALT) are left out and counted.

Sign: a damaging variant makes the alt sequence less likely, so by default LOWER scores are
taken to mean positive (AUROC and AUPRC are computed on `-score`); `--higher-is-positive`
uses the score as it is. AUROC 0.5 is chance either way; 1.0 means every positive ranks above
every negative in the chosen direction.

Writes `outdir/metrics.json` and `outdir/roc.png` (matplotlib, Agg backend), both atomically.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from genomamba.atomic import atomic_path, atomic_write_text

__all__ = ["register", "run", "read_scored", "evaluate_scores", "plot_roc"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate` subcommand to a `genomamba-score` parser."""
    p = subparsers.add_parser(
        "evaluate", help="AUROC/AUPRC of scores against labels (+ ROC plot, metrics JSON)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scored", help="scored VCF (plain/.gz) or TSV")
    p.add_argument("--label", required=True, help="INFO key (VCF) or column (TSV) holding the label")
    p.add_argument("--positive", required=True, help="positive label value(s), comma-separated; one class each")
    p.add_argument("--negative", default=None, help="negative label value(s) (default: every non-positive label)")
    p.add_argument("--scores", default="GM_LLR,GM_DELTA", help="score INFO keys / columns, comma-separated")
    p.add_argument("--higher-is-positive", action="store_true",
                   help="higher score = positive (default: lower score = positive, i.e. damaging)")
    p.add_argument("-o", "--outdir", required=True, help="directory for metrics.json and roc.png")
    p.set_defaults(func=run)


def read_scored(path: str | Path, label: str, scores: Sequence[str]) -> tuple[list[str | None], dict[str, list[float]]]:
    """One row per ALT: labels and {score: values} (NaN where missing).

    Raises:
        VcfError: a label or score that is neither an INFO field nor a column (names the file).
    """
    from genomamba.errors import VcfError
    from genomamba.io.vcf import parse_info, read_variants

    header, records = read_variants(path)
    labels: list[str | None] = []
    values: dict[str, list[float]] = {s: [] for s in scores}
    if header.kind == "tsv":
        lower = [c.lower() for c in header.columns]
        for key in (label, *scores):
            if key.lower() not in lower:
                raise VcfError(f"{path}: no column {key!r} (columns: {', '.join(header.columns)})")
        idx = {k: lower.index(k.lower()) for k in (label, *scores)}

        def fields(rec) -> dict:
            return {k: rec.fields[i] for k, i in idx.items()}
    else:
        declared = header.info_ids()
        for key in (label, *scores):
            if key not in declared:
                raise VcfError(f"{path}: no ##INFO line for {key!r} (declared: {', '.join(declared)})")

        def fields(rec) -> dict:
            return parse_info(rec.fields[7])

    for rec in records:
        row = fields(rec)
        n = max(len(rec.alts), 1)
        lab = _value(row, label)
        labs = lab.split(",") if lab is not None and lab.count(",") == n - 1 and n > 1 else [lab] * n
        labels.extend(labs)
        for s in scores:
            v = _value(row, s)
            parts = v.split(",") if v is not None else ["."] * n
            if len(parts) != n:
                parts = ["."] * n
            values[s].extend(_float(x) for x in parts)
    return labels, values


def _value(row: dict, key: str) -> str | None:
    v = row.get(key)
    return None if v in (None, "", ".", True) else v


def _float(x: str) -> float:
    try:
        return float(x)
    except ValueError:
        return math.nan


def evaluate_scores(
    labels: Sequence[str | None],
    values: dict[str, Sequence[float]],
    positives: Sequence[str],
    negatives: Sequence[str] | None = None,
    higher_is_positive: bool = False,
) -> dict:
    """AUROC and AUPRC of every score for every positive class (and their union) vs negatives.

    Returns:
        {"direction": ..., "classes": {class: {score: {"auroc", "auprc", "n_pos", "n_neg",
        "n_missing", "fpr", "tpr"}}}}; metrics are None when a class has no positives or no
        negatives with a score.
    """
    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    labels_arr = np.array([lab if lab is not None else "" for lab in labels], dtype=object)
    pos_set = set(positives)
    if negatives:
        neg_mask = np.isin(labels_arr, list(negatives))
    else:
        neg_mask = (labels_arr != "") & ~np.isin(labels_arr, list(pos_set))
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
            m = {"n_pos": int(y.sum()), "n_neg": int((1 - y).sum()),
                 "n_missing": int(((pos_mask | neg_mask) & ~np.isfinite(v)).sum())}
            if m["n_pos"] and m["n_neg"]:
                fpr, tpr, _ = roc_curve(y, x)
                m.update(auroc=float(roc_auc_score(y, x)), auprc=float(average_precision_score(y, x)),
                         fpr=fpr.tolist(), tpr=tpr.tolist())
            else:
                m.update(auroc=None, auprc=None, fpr=[], tpr=[])
            out["classes"][cname][sname] = m
    return out


def plot_roc(metrics: dict, path: str | Path, title: str = "") -> None:
    """One panel per class, one curve per score; written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = metrics["classes"]
    fig, axes = plt.subplots(1, len(classes), figsize=(4 * len(classes), 4), squeeze=False)
    for ax, (cname, per_score) in zip(axes[0], classes.items()):
        for sname, m in per_score.items():
            if m["auroc"] is not None:
                ax.plot(m["fpr"], m["tpr"], label=f"{sname} AUROC {m['auroc']:.3f}")
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"{cname} vs negatives")
        ax.legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def summary_lines(metrics: dict) -> list[str]:
    return [
        f"{cname:>24} {sname:>10}: AUROC {_f(m['auroc'])} AUPRC {_f(m['auprc'])} (pos {m['n_pos']}, neg {m['n_neg']}, "
        f"missing {m['n_missing']})"
        for cname, per in metrics["classes"].items() for sname, m in per.items()
    ]


def _f(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:.4f}"


def run(args: argparse.Namespace) -> int:
    """Evaluate `args.scored`; writes metrics.json and roc.png into `args.outdir`."""
    from genomamba.errors import GenomambaError

    scores = [s for s in args.scores.split(",") if s]
    positives = [s for s in args.positive.split(",") if s]
    negatives = [s for s in args.negative.split(",") if s] if args.negative else None
    try:
        labels, values = read_scored(args.scored, args.label, scores)
    except (GenomambaError, FileNotFoundError) as e:
        print(f"genomamba-score evaluate: error: {e}", file=sys.stderr)
        return 1
    metrics = evaluate_scores(labels, values, positives, negatives, args.higher_is_positive)
    metrics.update(input=str(args.scored), label=args.label, scores=scores)
    outdir = Path(args.outdir)
    atomic_write_text(outdir / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    plot_roc(metrics, outdir / "roc.png", title=f"{Path(args.scored).name}: {metrics['direction']}")
    for line in summary_lines(metrics):
        print(line)
    print(f"wrote {outdir / 'metrics.json'} and {outdir / 'roc.png'}", file=sys.stderr)
    return 0
