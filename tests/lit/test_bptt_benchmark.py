"""benchmarks/bench_longest_L.py in a tiny CPU run: both series run every length, and since chunked
backprop is exact, a chunked step after the same warm-up step as the one-pass series has its loss."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_longest_L.py"


def test_tiny_cpu_run(tmp_path, capsys):
    out = tmp_path / "longest.json"
    main = runpy.run_path(str(SCRIPT), run_name="bench_longest_L")["main"]
    assert main(["--device", "cpu", "--dtype", "fp32", "--d-model", "16", "--n-layer", "1", "--min-len", "64",
                 "--max-len", "128", "--chunk", "24", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["mode"], r["L"], r["status"]) for r in rows] == [
        ("one_pass", 64, "ok"), ("one_pass", 128, "ok"), ("chunked", 64, "ok"), ("chunked", 128, "ok")]
    # after the same warm-up step, the first timed step of both series sees the same weights
    assert rows[2]["loss"] == pytest.approx(rows[0]["loss"], rel=1e-5)
    assert "| chunked | 128 |" in capsys.readouterr().out
