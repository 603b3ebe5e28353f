"""Read `genomamba-train` run folders: the CSV log as a DataFrame, and curves of several runs.

A run folder is what `genomamba-train` writes (`hydra.run.dir`): `.hydra/config.yaml` (the
resolved configuration) and the Lightning CSV log `csv/metrics.csv` (one row per logged step,
train and validation metrics on separate rows). Tokens seen are derived from the configuration:
optimizer steps x batch size x window x gradient accumulation x devices.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from genomamba.errors import GenomambaError

__all__ = ["read_training_log", "plot_training_curves"]


def _tokens_per_step(cfg) -> int:
    trainer = cfg.get("trainer", {}) or {}
    devices = trainer.get("devices", 1)
    devices = devices if isinstance(devices, int) and devices > 0 else 1
    nodes = trainer.get("num_nodes", 1) or 1
    accumulate = trainer.get("accumulate_grad_batches", 1) or 1
    return int(cfg.data.batch_size) * int(cfg.data.window) * int(accumulate) * devices * int(nodes)


def read_training_log(run_dir: str | Path) -> pd.DataFrame:
    """The CSV log of one run, one row per logged step (train and validation rows merged).

    Args:
        run_dir: a `genomamba-train` run folder (holds `.hydra/config.yaml` and `csv/metrics.csv`).

    Returns:
        DataFrame with `step` (optimizer steps done), `tokens` (training tokens seen) and one column
        per logged metric (`train/bpc`, `val/bpc`, ...; NaN where a step logged no such value).

    Raises:
        GenomambaError: the folder has no CSV log or no configuration (names the missing file).
    """
    from omegaconf import OmegaConf

    run = Path(run_dir)
    csv, config = run / "csv" / "metrics.csv", run / ".hydra" / "config.yaml"
    for f in (csv, config):
        if not f.is_file():
            raise GenomambaError(f"{run}: not a genomamba-train run folder (no {f.relative_to(run)}; logger=csv writes it)")
    log = pd.read_csv(csv)
    if "step" not in log.columns:
        raise GenomambaError(f"{csv}: no 'step' column")
    metrics = [c for c in log.columns if c not in ("epoch", "step")]
    # Lightning logs the 0-based index of the step being taken; the validation run after training
    # (validate_at_end) logs one past the last step, so it is folded into the last step's row
    steps = log["step"] + 1
    train_cols = [c for c in metrics if c.startswith("train/")]
    trained = log[train_cols].notna().any(axis=1) if train_cols else pd.Series(False, index=log.index)
    if trained.any():
        steps = steps.clip(upper=int(steps[trained].max()))
    out = log.assign(step=steps).groupby("step", as_index=False)[metrics].first()
    out.insert(1, "tokens", out["step"] * _tokens_per_step(OmegaConf.load(config)))
    return out


def plot_training_curves(
    runs: dict[str, str | Path | pd.DataFrame] | Sequence[str | Path],
    metrics: Sequence[str] = ("train/bpc", "val/bpc"),
    baseline_bpc: float | None = 2.0,
):
    """One panel per metric, bits per base (or any metric) against tokens seen, one line per run.

    Args:
        runs: run folders (labelled by folder name) or {label: run folder or `read_training_log` frame}.
        metrics: logged columns to plot; a run without a metric is skipped in that panel.
        baseline_bpc: a horizontal reference line (2.0: a uniform guess over A, C, G, T); None for none.

    Returns:
        A matplotlib Figure.
    """
    from matplotlib.figure import Figure

    if not isinstance(runs, dict):
        runs = {Path(r).name: r for r in runs}
    logs = {k: v if isinstance(v, pd.DataFrame) else read_training_log(v) for k, v in runs.items()}
    fig = Figure(figsize=(5 * len(metrics), 3.8))
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        for label, log in logs.items():
            if metric in log.columns:
                rows = log[log[metric].notna()]
                ax.plot(rows["tokens"], rows[metric], marker="." if len(rows) < 30 else None, lw=1.2, label=label)
        if baseline_bpc is not None and metric.endswith("bpc"):
            ax.axhline(baseline_bpc, color="grey", ls="--", lw=0.8, label=f"uniform ({baseline_bpc:g})")
        ax.set(xlabel="training tokens seen", ylabel=metric, title=metric)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
