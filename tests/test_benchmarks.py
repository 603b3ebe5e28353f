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


# three instructions in a loop (0x10-0x30, a backward branch to 0x10), one before it and one after
_SASS = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;                      /* 0x00000a0000017a02 */
        /*0010*/                   FFMA R2, R3, R4, R5 ;                       /* 0x0000000403027223 */
        /*0020*/                   SHFL.BFLY PT, R6, R2, 0x1, 0x1f ;           /* 0x0c201f0002067f89 */
        /*0030*/               @P0 BRA 0x10 ;                                  /* 0xfffffff400c40947 */
        /*0040*/                   EXIT ;                                      /* 0x000000000000794d */
"""


def test_regs_reads_the_sass_mix_and_loop_sizes(monkeypatch):
    """benchmarks/kernels/regs.py's SASS census (BENCHMARKS.md 7j, 7k): instruction classes and loop bodies."""
    monkeypatch.syspath_prepend(str(BENCHMARKS / "kernels"))
    regs = runpy.run_path(str(BENCHMARKS / "kernels" / "regs.py"), run_name="regs")
    ops = regs["sass_ops"](_SASS)
    assert [op for _, op, _ in ops] == ["MOV", "FFMA", "SHFL.BFLY", "BRA", "EXIT"]
    assert regs["sass_mix"](ops) == {"all": 5, "move": 1, "fma": 1, "shfl": 1}
    assert regs["loop_sizes"](ops) == [3]


def test_regs_counts_warps_per_sub_partition():
    """regs.py's occupancy: registers are handed out per sub-partition (16 K each, 256 a warp at a time), so
    146 registers a thread fit 12 one-warp programs a SM, not 14 (BENCHMARKS.md 7l)."""
    regs = runpy.run_path(str(BENCHMARKS / "kernels" / "regs.py"), run_name="regs")
    fit = regs["warps_per_sm"]
    assert [fit(r, 1) for r in (146, 134, 128, 253, 64, 32)] == [12, 12, 16, 8, 32, 64]
    assert fit(128, 4) == 16 and fit(146, 4) == 12 and fit(200, 8) == 8


def test_lm_history_reads_every_milestone(monkeypatch):
    """Every milestone of plot_lm_history.py exists and has all five rows, a printed table (FILE.md#SECTION) read
    like a results.json: 7o's figures are BENCHMARKS.md's (1.29x ... 1.42x speed, 0.22x forward memory at 2^20)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import plot_lm_history as h

    for _, _, rel in h.MILESTONES:
        assert len(h.ratios(BENCHMARKS / rel)) == len(h.ROWS), rel
    printed = h.ratios(BENCHMARKS / "results_2026-12-08/call2_stdout.md#lm new")
    assert [printed[(m, b, n)][0] for m, b, n, _ in h.ROWS] == [1.29, 1.51, 1.72, 1.34, 1.42]
    assert printed[("infer", 1, 1 << 20)][1] == 0.22
