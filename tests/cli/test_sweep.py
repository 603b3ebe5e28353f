"""A multirun ends with a table of every job's overrides and final metrics at the sweep root."""

from __future__ import annotations

import subprocess
import sys


def test_multirun_writes_a_summary_table(tmp_path):
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "genomamba.cli.train", "-m", "data=tiny", "model.config.d_model=16",
           "model.config.n_layer=1", "data.window=32", "data.batch_size=2", "trainer.max_steps=1",
           "trainer.val_check_interval=1", "data.max_valid_windows=2", "callbacks=none", "logger=csv",
           "validate_at_end=false", "seed=0,1", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = (sweep / "summary.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    assert header[:2] == ["job", "overrides"] and "val/bpc" in header and "train_tokens_per_s" in header
    assert [line.split("\t")[0] for line in lines[1:]] == ["0", "1"]
    assert "seed=0" in lines[1] and "seed=1" in lines[2]
    assert (sweep / "summary.md").read_text().startswith("| job | overrides |")
