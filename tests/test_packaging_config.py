"""pyproject.toml packages every Hydra config group (conf/<group>/ is its own namespace package with
its YAML as package data, so setuptools has no 'absent from the packages configuration' warning),
and `project.license` is an SPDX string (the TOML-table form is deprecated)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_conf_group_is_a_package_with_its_yaml(pyproject):
    st = pyproject["tool"]["setuptools"]
    assert st["package-dir"]["genomamba.conf"] == "conf"
    groups = sorted(d.name for d in (ROOT / "conf").iterdir() if d.is_dir() and any(d.glob("*.yaml")))
    assert groups, "no config groups under conf/"
    for g in ["", *groups]:
        pkg = "genomamba.conf" + (f".{g}" if g else "")
        assert pkg in st["packages"], f"{pkg} missing from [tool.setuptools] packages"
        assert "*.yaml" in st["package-data"].get(pkg, []), f"{pkg} has no *.yaml package-data"
    # no pattern of the parent reaches into a group folder (each group owns its YAML)
    assert all("/" not in pat for pat in st["package-data"]["genomamba.conf"])


def test_license_is_an_spdx_string_with_a_backend_that_reads_it(pyproject):
    assert pyproject["project"]["license"] == "Apache-2.0"
    (req,) = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    floor = tuple(int(x) for x in req.split(">=")[1].split("."))
    assert floor >= (77,), req  # SPDX license strings need setuptools >= 77


@pytest.mark.slow
def test_wheel_build_has_no_packaging_warnings(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} < 77 in this environment")
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "outputs", ".carry", ".whl", "*.egg-info", "__pycache__", ".pytest_cache",
        "tests", "notebooks", "benchmarks", "workflows"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                           "-w", str(tmp_path / "whl"), str(src)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stdout + proc.stderr
    assert "absent from the `packages` configuration" not in log
    assert "as a TOML table is deprecated" not in log
    (whl,) = (tmp_path / "whl").glob("genomamba-*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    yamls = {f"genomamba/conf/{p.relative_to(ROOT / 'conf').as_posix()}" for p in (ROOT / "conf").rglob("*.yaml")}
    assert yamls and yamls <= names, sorted(yamls - names)


def test_readme_dependency_table_matches_pyproject(pyproject):
    """Walk-through: the table had pandas as an extra (it is core) and lacked numba and threadpoolctl.
    Every requirement has a row; a core one names no extra, an optional one exactly its extras."""
    import re

    text = (ROOT / "README.md").read_text().split("## Dependencies and what each is for")[1].split("\n## ")[0]
    rows = {}  # package (lower case) -> the extras its row names (empty: core)
    for line in text.splitlines()[3:]:
        cell = line.split("|")[1]
        for part in re.split(r"\), ", cell.strip()):
            names, _, extras = part.partition("(extra ")
            for name in names.split(","):
                rows[name.strip().lower()] = set(re.findall(r"`([\w-]+)`", extras))
    name = lambda req: re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0].lower()
    project = pyproject["project"]
    want = {name(r): set() for r in project["dependencies"]}
    for extra, reqs in project["optional-dependencies"].items():
        for r in reqs:
            if name(r) not in {name(c) for c in project["dependencies"]}:
                want.setdefault(name(r), set()).add(extra)
    assert rows == want
