"""The ROC plot (one panel per comparison, one curve per score or method) and the saturation
mutagenesis heatmap, each a matplotlib `Figure` built without pyplot (no global backend, no
open-figure registry: safe in scripts, threads and notebooks). `save_figure` writes it atomically."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from genomamba.atomic import atomic_path

__all__ = ["plot_roc", "plot_mutagenesis", "save_figure"]

Curve = tuple[Sequence[float], Sequence[float]]  # (false positive rates, true positive rates)

PANEL_CHARS = 42  # title characters that fit one 4.5-inch ROC panel at 10 pt
TITLE_CHARS = 70  # suptitle characters per panel at 9 pt


def _wrap_title(text: str, width: int) -> str:
    """`text` in lines of at most `width` characters, broken at spaces or after a `+` (a union
    class such as `nonsense+missense+stop_lost` is one word otherwise), so a title is not cut off."""
    lines = textwrap.wrap(text.replace("+", "+ "), width, break_on_hyphens=False)
    return "\n".join(line.replace("+ ", "+") for line in lines)


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
        ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
        ax.set_title(_wrap_title(ptitle, PANEL_CHARS), fontsize=10)
        if any(len(fpr) for fpr, _ in curves.values()):
            ax.legend(loc="lower right", fontsize=7)
    if title:
        fig.suptitle(_wrap_title(title, TITLE_CHARS * n), fontsize=9)
    fig.tight_layout()
    return fig


def plot_mutagenesis(table, score: str = "GM_LLR", title: str = "") -> Figure:
    """Heatmap of a saturation mutagenesis: position (x) by substituted base (y), coloured by `score`.

    The reference base of each position has no score and is drawn black (with its letter where
    the region is short enough to read one); the colour scale is symmetric about 0 (red: alt less
    likely than ref), clipped at the 99th percentile of |score| so one outlier does not wash it
    out; a lower panel shows the mean score of the three SNVs per position. Widths up to a few kb
    stay readable (the figure widens with the region, to 24 inches).

    Args:
        table: a DataFrame with pos, ref, alt and `score` columns (`saturation_mutagenesis`).
        score: the column to plot.
        title: figure title (e.g. the region and the model).
    """
    import matplotlib
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    bases = "ACGT"
    positions = np.sort(table["pos"].unique())
    col = {p: i for i, p in enumerate(positions)}
    grid = np.full((4, len(positions)), np.nan)
    refs = {}
    for pos, ref, alt, v in zip(table["pos"], table["ref"], table["alt"], table[score]):
        grid[bases.index(alt), col[pos]] = v
        refs[pos] = ref
    finite = np.abs(grid[np.isfinite(grid)])
    lim = float(np.percentile(finite, 99)) if finite.size else 1.0
    lim = lim if lim > 0 else 1.0

    n = len(positions)
    fig = Figure(figsize=(min(max(6.0, 0.06 * n + 2), 24.0), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    heat, mean = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    cmap = matplotlib.colormaps["RdBu"].with_extremes(bad="black")
    image = heat.imshow(np.ma.masked_invalid(grid), aspect="auto", interpolation="nearest", cmap=cmap,
                        vmin=-lim, vmax=lim, extent=(-0.5, n - 0.5, 3.5, -0.5))
    heat.set_yticks(range(4), list(bases))
    heat.set_ylabel("alt base")
    if n <= 150:  # short regions: the reference letter in its (black) cell
        for pos, ref in refs.items():
            if ref in bases:
                heat.text(col[pos], bases.index(ref), ref, ha="center", va="center", color="white", fontsize=6)
    fig.colorbar(image, ax=[heat, mean], label=f"{score} (black: reference base)", fraction=0.03, pad=0.01)
    mean.plot(range(n), np.nanmean(grid, axis=0) if n else [], lw=0.8, c="k")
    mean.axhline(0, c="grey", lw=0.5)
    mean.set_ylabel("mean")
    ticks = np.unique(np.linspace(0, n - 1, min(n, 10)).round().astype(int)) if n else []
    mean.set_xticks(ticks, [f"{positions[t]:,}" for t in ticks])
    mean.set_xlabel("position (1-based)")
    if title:
        heat.set_title(title, fontsize=9)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> None:
    """Write `fig` as PNG to `path` atomically (a temporary file moved into place)."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
