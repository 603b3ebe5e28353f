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


def _skip_nested_interpreter_repatching() -> None:
    """Triton's interpreter re-patches triton.language on every call of a nested @triton.jit helper
    (`InterpretedFunction.__call__` -> `_patch_lang`, whose scope it then drops), although the
    enclosing launch (`GridExecutor.__call__`) keeps the same modules patched until it returns; that
    `inspect.getmembers` sweep a call was ~40% of test_selective_scan_triton.py's time. Within a
    launch, a helper whose modules are already patched now runs without re-patching; every other
    call goes through the original, so the kernels run the same code (bit-identical results)."""
    try:
        import triton.language as tl
        from triton.runtime import interpreter
    except ImportError:
        return
    original, launch = getattr(interpreter, "_patch_lang", None), getattr(interpreter, "GridExecutor", None)
    if original is None or launch is None or getattr(original, "_genomamba_tests", False):
        return
    launch_call = launch.__call__
    launches: list[frozenset[int] | None] = []  # per running launch: the modules patched so far

    class _Nothing:
        def restore(self) -> None:
            pass

    def _patch_lang(fn):
        langs = frozenset(id(v) for v in fn.__globals__.values() if v is tl or v is tl.core)
        if not launches:
            return original(fn)
        if launches[-1] is not None and langs <= launches[-1]:  # a helper inside a launch: patched
            return _Nothing()
        # the launch's own patching, or a helper of another module (triton.language's tl.sum and
        # tl.zeros patch triton.language.core, which the helper's dropped scope leaves patched)
        launches[-1] = langs | (launches[-1] or frozenset())
        return original(fn)

    def __call__(self, *args, **kwargs):
        launches.append(None)
        try:
            return launch_call(self, *args, **kwargs)
        finally:
            launches.pop()

    _patch_lang._genomamba_tests = True
    interpreter._patch_lang = _patch_lang
    launch.__call__ = __call__


if os.environ.get("TRITON_INTERPRET") == "1":
    _skip_nested_interpreter_repatching()

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
