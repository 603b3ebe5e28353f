"""A regular (wheel) install carries conf/, the bundled genomes and genomamba_kernels, and
genomamba-train composes its config from there (the editable install is what the rest of the
suite runs on)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # build from a copy: setuptools writes build/ into the source tree, and stale files there
    # could leak into a later wheel
    src = tmp_path_factory.mktemp("src") / "genomamba"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "outputs", ".carry", ".whl", "*.egg-info", "__pycache__", ".pytest_cache"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        check=True, capture_output=True, text=True,
    )
    (whl,) = out.glob("genomamba-*.whl")
    return whl


def test_wheel_contains_configs_genomes_and_kernels(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in [
        "genomamba/conf/train.yaml",
        "genomamba/conf/experiment/pretrain_ecoli_tiny.yaml",
        "genomamba/conf/data/ecoli.yaml",
        "genomamba/bundled/ecoli_mg1655.fa.gz",
        "genomamba/bundled/ecoli_mg1655.fa.gz.fai",
        "genomamba/bundled/ecoli_mg1655.fa.gz.gzi",
        "genomamba/bundled/lambda_phage.fa.gz",
        "genomamba/bundled/ecoli_consequences_200kb.vcf.gz",
        "genomamba/evaluation/__init__.py",
        "genomamba_kernels/__init__.py",
        "genomamba_kernels/selective_scan.py",
        "genomamba_kernels/common.py",
    ]:
        assert required in names, f"{required} missing from {wheel.name}"
    assert not any(n.startswith(("tests/", "kernels/")) for n in names)


def test_installed_wheel_composes_the_training_config(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, text=True)
    code = (
        "import genomamba, sys; assert genomamba.__file__.startswith(sys.argv[1]), genomamba.__file__\n"
        "from hydra import compose, initialize_config_module\n"
        "from genomamba.cli.train import register_resolvers\n"
        "register_resolvers()\n"
        "with initialize_config_module(config_module='genomamba.conf', version_base='1.3'):\n"
        "    cfg = compose('train', overrides=['experiment=pretrain_ecoli_tiny'])\n"
        "path = cfg.data.fastas[0]; assert path.startswith(sys.argv[1]), path\n"
        "import os; assert os.path.exists(path)\n"
        "print('ok', cfg.task_name)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run([sys.executable, "-c", code, str(target)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ok pretrain_ecoli_tiny" in run.stdout
