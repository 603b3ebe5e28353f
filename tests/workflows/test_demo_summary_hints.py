"""`make demo`'s summary: next commands spelled with the venv's bin/ (not on PATH after `make demo`),
and the bits per base the demo scored on phage lambda."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "workflows" / "scripts" / "demo_summary.py"


def _script():
    spec = importlib.util.spec_from_file_location("demo_summary", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _tsv(path: Path, rows: list[tuple[str, float, int]]) -> None:
    path.write_text("name\tlength\tbits_per_base\tn_count\tscored_bases\n"
                    + "".join(f"{n}\t{b}\t{bpb}\t0\t{b}\n" for n, bpb, b in rows))


def _run_dir(tmp_path: Path, with_lambda: bool) -> Path:
    run = tmp_path / "outputs" / "demo"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"val/bpc": 1.95}))
    _tsv(run / "valid_model.tsv", [("a", 1.9, 100)])
    _tsv(run / "valid_markov.tsv", [("a", 1.94, 100)])
    if with_lambda:
        _tsv(run / "lambda_scores.tsv", [("NC_001416.1", 1.911, 48502)])
    return run


def test_next_commands_use_the_venv_bin_and_lambda_is_reported(tmp_path, monkeypatch):
    bindir = tmp_path / ".venv" / "bin"
    bindir.mkdir(parents=True)
    for name in ("python", "genomamba-score", "pip", "jupyter"):
        (bindir / name).write_text("")
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))
    monkeypatch.chdir(tmp_path)
    run = _run_dir(tmp_path, with_lambda=True)
    out = _script().summary(Path("outputs/demo"))
    assert "phage lambda (not in its training): 1.911 bits per base" in out
    assert "outputs/demo/lambda_scores.tsv" in out
    nxt = out.split("== next:\n")[1].splitlines()
    assert nxt[0].startswith("   .venv/bin/genomamba-score fasta outputs/demo/model ")
    assert nxt[1].startswith("   .venv/bin/genomamba-score vcf ")
    # their outputs go into the git-ignored run folder, not the repository root (walk-through)
    assert nxt[0].endswith(" -o outputs/demo/scores.tsv --tracks outputs/demo/ll.bedGraph")
    assert nxt[1].endswith(" -o outputs/demo/scored.vcf.gz")
    # no jupyter-lab in the venv (make install has no notebooks extra): say how to get it
    assert nxt[2] == ("   .venv/bin/pip install -e '.[notebooks]' && .venv/bin/jupyter lab notebooks/01_quickstart.ipynb")
    (bindir / "jupyter-lab").write_text("")
    assert _script().summary(run).splitlines()[-1] == "   .venv/bin/jupyter-lab notebooks/01_quickstart.ipynb"


def test_without_a_venv_script_or_lambda_table(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    out = _script().summary(_run_dir(tmp_path, with_lambda=False))
    assert "lambda" not in out.split("== next:")[0]
    assert "\n   genomamba-score fasta " in out
