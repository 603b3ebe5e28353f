"""`make demo`'s last step: the same split as training, a Markov baseline on it, a short summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from genomamba.models import CharMambaLM, MambaConfig

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "workflows" / "scripts" / "demo_summary.py"
BIN = Path(sys.executable).parent


def _ok(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_demo_ends_with_a_summary_against_uniform_and_markov(tmp_path):
    run = tmp_path / "demo"
    CharMambaLM(MambaConfig(d_model=16, n_layer=1, scan_backend="ref")).save_pretrained(run / "model")
    (run / "metrics.json").write_text(json.dumps({"val/bpc": 2.1}))
    _ok(sys.executable, str(SCRIPT), "split", str(ROOT / "tests/fixtures/tiny.fa"), str(run / "split"), "--valid-fraction", "0.2")
    valid = (run / "split" / "valid.fa").read_text()
    assert valid.startswith(">chr1:160-200\n")  # the tail of each record, as GenomeDataModule holds back
    _ok(str(BIN / "genomamba-score"), "fit-markov", "-k", "2", "-q", "-o", str(run / "markov"), str(run / "split" / "train.fa"))
    for name in ("markov", "model"):
        _ok(str(BIN / "genomamba-score"), "fasta", str(run / name), str(run / "split" / "valid.fa"), "-o", str(run / f"valid_{name}.tsv"), "-q")
    out = _ok(sys.executable, str(SCRIPT), "summary", str(run))
    assert "uniform guess            2.000" in out and "val/bpc during training: 2.100" in out
    markov = float(out.split("Markov baseline")[1].split()[0])
    assert 0.5 < markov < 3.0  # a number, not nan
    assert str(run / "model") in out and out.count("genomamba-score ") == 2 and "notebooks/01_quickstart.ipynb" in out
