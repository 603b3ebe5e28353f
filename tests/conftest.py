"""Shared fixtures: paths of the tiny committed files and Hydra composition of the real conf/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Without CUDA, kernel tests run under Triton's interpreter. The flag is read when triton is first
# imported, and other test modules import it indirectly (lightning -> torch._dynamo), so set it here.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
# Tiny test shapes run fastest single-threaded, and the suite must not fight itself on 2 cores.
torch.set_num_threads(1)

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_collection_modifyitems(config, items):
    """Skip `gpu` tests cleanly where there is no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tiny_fa() -> Path:
    return FIXTURES / "tiny.fa"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Converted gzip copies go to a per-session temp dir, never to the user's cache."""
    monkeypatch.setenv("GENOMAMBA_CACHE", str(tmp_path_factory.getbasetemp() / "genomamba_cache"))
