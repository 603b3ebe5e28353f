"""kernels/ installs as genomamba_kernels; inside a checkout its folder must not shadow Hugging Face's `kernels`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, *flags: str, env_path: str | None = None) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": env_path} if env_path else {}
    return subprocess.run([sys.executable, *flags, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)


def test_the_checkout_folder_hands_import_kernels_to_the_installed_package(tmp_path):
    other = tmp_path / "kernels"
    other.mkdir()
    (other / "__init__.py").write_text("WHO = 'the other kernels'\n")
    done = _run("import kernels, sys; print(kernels.WHO, sys.modules['kernels'].__file__)", env_path=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:3] == ["the", "other", "kernels"]
    assert Path(done.stdout.split()[3]).parent == other


def test_without_another_kernels_the_import_fails_as_a_missing_module():
    done = _run("import kernels", "-S")  # no site-packages: only the checkout's folder could answer
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'kernels'" in done.stderr
    assert "genomamba_kernels" in done.stderr
