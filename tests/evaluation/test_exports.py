"""`genomamba.evaluation` names: every export resolves; evaluating a scored file does not import torch."""

from __future__ import annotations

import subprocess
import sys

import genomamba.evaluation as ev


def test_every_export_resolves():
    for name in ev.__all__:
        value = getattr(ev, name)
        assert callable(value) or name == "METHOD_LABELS", name
        assert getattr(value, "__module__", "genomamba.evaluation.x").startswith("genomamba.evaluation."), name


def test_evaluate_does_not_import_torch():
    code = "import sys; from genomamba.evaluation import evaluate, write_evaluation; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
