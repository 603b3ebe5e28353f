"""Execute every notebooks/*.ipynb on small inputs with nbclient (python3 kernel of this env).

Each notebook's first code cell is tagged `parameters`; the test injects a cell after it that
overrides the parameters it defines (papermill style), so the notebook runs in seconds.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FIXTURES = ROOT / "tests" / "fixtures"
# small inputs; a notebook only gets the ones its parameters cell defines
SMALL = {
    "MODEL_DIR": None,
    "FASTA": str(FIXTURES / "tiny.fa"),
    "VARIANTS": str(FIXTURES / "tiny_labelled.vcf"),
    "WINDOW": 32,
    "RECORD": "chr1",
    "START": 0,
    "END": None,
    "TRAIN_STEPS": 3,
    "MARKOV_K": 3,
    "SMOOTH": 10,
}


def parameters_cell(nb) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return i
    raise AssertionError("no code cell tagged 'parameters'")


def test_notebooks_found():
    assert NOTEBOOKS, "no notebooks/*.ipynb"


@pytest.mark.slow  # a kernel per notebook (~25 s each): `make test` runs them in its second step
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    # the kernel inherits the environment: its temporary directories land in tmp_path
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    i = parameters_cell(nb)
    defined = {
        node.id for node in ast.walk(ast.parse(nb.cells[i].source))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    overrides = "\n".join(f"{k} = {v!r}" for k, v in SMALL.items() if k in defined)
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell("# injected by the test\n" + overrides))
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        out for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]
    assert not errors, errors
    images = [
        out for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if "image/png" in out.get("data", {})
    ]
    assert images, f"{path.name} produced no plot"
