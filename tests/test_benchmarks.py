"""Every script under benchmarks/ imports and answers `--help`, so the commands BENCHMARKS.md gives
cannot rot unnoticed (as `bench_score_vcf.py` did when it imported a helper that had moved)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.rglob("*.py") if "__pycache__" not in p.parts)


def test_benchmarks_found():
    assert len(SCRIPTS) >= 5, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(BENCHMARKS)) for p in SCRIPTS])
def test_benchmark_help(script, monkeypatch, capsys):
    # as `python benchmarks/x.py --help` runs it: its own folder first on sys.path
    monkeypatch.syspath_prepend(str(script.parent))
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    if 'if __name__ == "__main__"' not in script.read_text():
        runpy.run_path(str(script), run_name=script.stem)  # a helper module: it must import
        return
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert exc.value.code in (0, None), f"{script.name} --help exited {exc.value.code}"
    assert out.startswith("usage:"), f"{script.name} --help printed no usage:\n{out[:500]}"
