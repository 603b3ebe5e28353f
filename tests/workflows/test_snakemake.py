"""The Snakemake workflow: lint, a dry run on the tiny config, and a real tiny run end to end.

Snakemake runs as a subprocess with `-s`/`--directory`, never from a particular cwd; the rules
find the CLIs on PATH, so the test puts this interpreter's bin/ first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("snakemake")

ROOT = Path(__file__).resolve().parents[2]
SNAKEFILE = ROOT / "workflows" / "Snakefile"
CONFIGS = sorted((ROOT / "workflows" / "config").glob("*.yaml"))
TINY = ROOT / "workflows" / "config" / "tiny.yaml"


def snakemake(workdir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(workdir), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.parametrize("configfile", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_lint(configfile, tmp_path):
    proc = snakemake(tmp_path, "--configfile", str(configfile), "--lint")
    assert "good condition" in proc.stdout + proc.stderr


@pytest.mark.parametrize("configfile", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_dry_run(configfile, tmp_path):
    proc = snakemake(tmp_path, "--configfile", str(configfile), "-n")
    out = proc.stdout + proc.stderr
    for rule in ("prepare_markov", "pretrain", "score_fasta", "report"):
        assert f"rule {rule}:" in out, f"dry run plans no {rule} job:\n{out}"
    if configfile == TINY:
        assert "rule evaluate:" in out and "rule score_vcf:" in out


def test_invalid_config_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text().replace("k: 4", "k: 40"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(tmp_path / "run"),
         "--configfile", str(bad), "-n"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode != 0
    assert "baseline" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


@pytest.mark.slow  # a real pipeline run (~65 s): `make test` runs it in its second step
def test_tiny_end_to_end(tmp_path):
    snakemake(tmp_path, "--configfile", str(TINY), "--cores", "1", timeout=300)
    for model in ("mamba", "markov"):
        assert (tmp_path / "score" / model / "tiny.tsv").stat().st_size > 0
        assert (tmp_path / "evaluate" / model / "roc.png").stat().st_size > 0
        evaluation = json.loads((tmp_path / "evaluate" / model / "metrics.json").read_text())
        auroc = evaluation["classes"]["1"]["GM_LLR"]["auroc"]
        assert 0.0 <= auroc <= 1.0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "validation bpc" in report and "AUROC" in report
    assert "| markov | 1 | GM_LLR |" in report and "| mamba | tiny |" in report
    # a second run has nothing left to do
    proc = snakemake(tmp_path, "--configfile", str(TINY), "--cores", "1", "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_device_is_validated_not_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text() + "\ndevice: 'cpu; touch PWNED'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(tmp_path / "run"),
         "--configfile", str(bad), "-n"], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "device" in proc.stdout + proc.stderr


def test_commands_use_this_environment(tmp_path):
    """Without the venv on PATH the rules still find the CLIs (no exit 127)."""
    workdir = tmp_path / "with space"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != Path(sys.executable).parent)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(workdir),
                           "--configfile", str(TINY), "-n", "-p"], capture_output=True, text=True, env=env, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    bindir = Path(sys.executable).parent
    assert f"{bindir}/genomamba-train" in out and f"{bindir}/genomamba-score" in out
