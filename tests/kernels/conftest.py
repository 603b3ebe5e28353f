"""Kernel tests: without CUDA they run under Triton's interpreter on the CPU.

TRITON_INTERPRET must be set before triton is imported (triton.jit reads it at decoration time),
and GENOMAMBA_KERNELS_DEBUG=1 makes the wrappers NaN-poison every output they allocate, so an
element a kernel never writes fails the comparison.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ["GENOMAMBA_KERNELS_DEBUG"] = "1"

if importlib.util.find_spec("genomamba_kernels") is None:
    # A checkout that was not `pip install -e .`-ed: load kernels/ under its installed name.
    _root = Path(__file__).resolve().parents[2] / "kernels"
    _spec = importlib.util.spec_from_file_location(
        "genomamba_kernels", _root / "__init__.py", submodule_search_locations=[str(_root)]
    )
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["genomamba_kernels"] = _mod
    _spec.loader.exec_module(_mod)

pytest.importorskip("triton")


@pytest.fixture
def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
