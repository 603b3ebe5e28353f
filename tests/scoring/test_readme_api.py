"""The README's "Python API" example runs as written (from a folder holding the bundled data)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_python_api_example_runs(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "data").mkdir()
    for f in (ROOT / "data").glob("lambda_phage.fa.gz*"):
        shutil.copy(f, tmp_path / "data" / f.name)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "bits_per_base" in r.stdout and "GM_LLR" in r.stdout and "LABEL" in r.stdout
    assert (tmp_path / "outputs/api/lambda_markov4" / "config.json").is_file()
    assert (tmp_path / "outputs/api/lambda_roc.png").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "outputs"]  # nothing else in the folder


def test_readme_score_variants_signature_names_unknown_contig_and_its_default():
    """Walk-through: the README's `score_variants(...)` left out `unknown_contig`, whose default
    ("flag") differs from `genomamba-score vcf --unknown-contig` ("error")."""
    import inspect

    import genomamba as gm

    text = (ROOT / "README.md").read_text()
    documented = re.search(r"`score_variants\((.*?)\)`", text, re.S).group(1)
    params = inspect.signature(gm.score_variants).parameters
    for arg in re.findall(r"(\w+)=", documented):
        assert arg in params, arg
    default = params["unknown_contig"].default
    assert f'unknown_contig="{default}"' in documented
