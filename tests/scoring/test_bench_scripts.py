"""The scoring benchmarks import and parse their options (the commands BENCHMARKS.md gives run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", ["bench_score_vcf.py", "bench_score_fasta.py"])
def test_benchmark_help_runs(script):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "usage:" in r.stdout
