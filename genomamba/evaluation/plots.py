"""The ROC plot, written once: one panel per comparison, one curve per score or method, as a
matplotlib `Figure` built without pyplot (no global backend, no open-figure registry: safe in
scripts, threads and notebooks). `save_figure` writes it atomically."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from genomamba.atomic import atomic_path

__all__ = ["plot_roc", "save_figure"]

Curve = tuple[Sequence[float], Sequence[float]]  # (false positive rates, true positive rates)


def plot_roc(panels: Mapping[str, Mapping[str, Curve]], title: str = "") -> Figure:
    """ROC curves, one panel per key of `panels` (its title), one line per curve (its legend label).

    Args:
        panels: {panel title: {curve label: (fpr, tpr)}}; a curve with no points is left out.
        title: figure title (e.g. the input file and the score direction).

    Returns:
        The Figure (Agg canvas attached: `fig.savefig` works; in a notebook it displays itself).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    n = max(len(panels), 1)
    fig = Figure(figsize=(4.5 * n, 4.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (ptitle, curves) in zip(axes, panels.items()):
        for label, (fpr, tpr) in curves.items():
            if len(fpr):
                ax.plot(fpr, tpr, lw=1.5, label=label)
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label="_chance")
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title=ptitle, xlim=(0, 1), ylim=(0, 1.01))
        if any(len(fpr) for fpr, _ in curves.values()):
            ax.legend(loc="lower right", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> None:
    """Write `fig` as PNG to `path` atomically (a temporary file moved into place)."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
