"""A Hydra callback that ends a multirun (`genomamba-train -m ...`) with a table at the sweep root:
one row per job, its overrides and its final metrics (`summary.tsv` and `summary.md`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from genomamba.atomic import atomic_write_text

log = logging.getLogger("genomamba.train")


def sweep_rows(sweep_dir: Path) -> list[dict[str, str]]:
    """{"job", "overrides", metric...} for every job folder (`<n>/.hydra/overrides.yaml`)."""
    rows = []
    for overrides in sorted(sweep_dir.glob("*/.hydra/overrides.yaml"), key=lambda p: (len(p.parts[-3]), p.parts[-3])):
        job = overrides.parent.parent
        row = {"job": job.name, "overrides": " ".join(yaml.safe_load(overrides.read_text()) or [])}
        metrics = job / "metrics.json"
        if metrics.exists():
            row.update({k: f"{v:.6g}" for k, v in json.loads(metrics.read_text()).items()})
        else:
            row["status"] = "no metrics.json (failed or not finished)"
        rows.append(row)
    return rows


def write_summary(sweep_dir: Path) -> list[dict[str, str]]:
    rows = sweep_rows(sweep_dir)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    tsv = ["\t".join(columns)] + ["\t".join(r.get(c, "") for c in columns) for r in rows]
    md = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    md += ["| " + " | ".join(r.get(c, "") for c in columns) + " |" for r in rows]
    atomic_write_text(sweep_dir / "summary.tsv", "\n".join(tsv) + "\n")
    atomic_write_text(sweep_dir / "summary.md", "\n".join(md) + "\n")
    return rows


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = write_summary(sweep_dir)
        log.info("sweep summary of %d jobs: %s", len(rows), sweep_dir / "summary.md")
