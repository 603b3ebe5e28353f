"""genomamba.training_logs: a run folder's CSV log as a DataFrame, and training curves."""

from __future__ import annotations

import pytest

from genomamba.errors import GenomambaError
from genomamba.training_logs import plot_training_curves, read_training_log

CONFIG = """\
data:
  batch_size: 4
  window: 128
trainer:
  accumulate_grad_batches: 2
  devices: 1
"""
# as Lightning's CSVLogger writes it: train and validation on separate rows, 0-based step index,
# and the validation after training one step past the last
METRICS = """\
epoch,step,train/bpc,train/loss,val/bpc,val/loss
0,9,2.9,2.0,,
0,9,,,2.8,1.9
0,19,2.7,1.9,,
0,19,,,2.6,1.8
1,20,,,2.6,1.8
"""


def write_run(root):
    (root / ".hydra").mkdir(parents=True)
    (root / ".hydra" / "config.yaml").write_text(CONFIG)
    (root / "csv").mkdir()
    (root / "csv" / "metrics.csv").write_text(METRICS)
    return root


def test_read_training_log_merges_rows_and_counts_tokens(tmp_path):
    log = read_training_log(write_run(tmp_path / "run"))
    assert log["step"].tolist() == [10, 20]
    assert log["tokens"].tolist() == [10 * 4 * 128 * 2, 20 * 4 * 128 * 2]
    assert log["train/bpc"].tolist() == [2.9, 2.7]
    assert log["val/bpc"].tolist() == [2.8, 2.6]


def test_read_training_log_names_missing_files(tmp_path):
    with pytest.raises(GenomambaError, match="csv/metrics.csv"):
        read_training_log(tmp_path)


def test_plot_training_curves_one_line_per_run_and_metric(tmp_path):
    a = write_run(tmp_path / "a")
    b = read_training_log(write_run(tmp_path / "b"))
    fig = plot_training_curves({"a": a, "b": b}, metrics=("train/bpc", "val/bpc"), baseline_bpc=2.0)
    axes = fig.get_axes()
    assert len(axes) == 2
    for ax in axes:
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels == ["a", "b", "uniform (2)"]
    assert list(axes[1].get_lines()[0].get_ydata()) == [2.8, 2.6]
