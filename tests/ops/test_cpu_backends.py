"""Contract checks every CPU selective-scan backend (torch, numba) meets, against the reference."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest
import torch

from genomamba.ops.selective_scan_ref import selective_scan_ref
from tests.ops.test_selective_scan_torch import assert_close, make_inputs


def _backend(name: str, chunk_size: int | None = None) -> Callable:
    """The backend's scan; `chunk_size` is the torch backend's chunking (numba has none)."""
    if name == "torch":
        from genomamba.ops.selective_scan_torch import selective_scan_torch

        return lambda *a, **k: selective_scan_torch(*a, **k, **({"chunk_size": chunk_size} if chunk_size else {}))
    from genomamba.ops.selective_scan_numba import selective_scan_numba

    return selective_scan_numba


BACKENDS = [
    "torch",
    pytest.param("numba", marks=pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="no numba")),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_no_grad_and_plain_call(backend: str, reverse: bool) -> None:
    """Inference path (no autograd) and the minimal call without optional inputs."""
    ins = make_inputs(2, 70, 8, 4, None, torch.float32, seed=3)
    args = [ins[k] for k in ("u", "delta", "A", "B", "C")]
    args[1] = torch.nn.functional.softplus(args[1])  # delta > 0 without delta_softplus
    scan = _backend(backend, chunk_size=9)
    with torch.no_grad():
        y_b, h_b = scan(*args, return_final_state=True, reverse=reverse)
        y_r, h_r = selective_scan_ref(*args, return_final_state=True, reverse=reverse)
    assert_close("y", y_b, y_r, torch.float32)
    assert_close("final_state", h_b, h_r, torch.float32)
    y_plain = _backend(backend)(*args, reverse=reverse)
    assert isinstance(y_plain, torch.Tensor) and y_plain.shape == y_r.shape and y_plain.is_contiguous()


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_requires_grad(backend: str) -> None:
    """Only u requires grad (e.g. frozen SSM parameters): the backend's backward still matches."""
    ins = make_inputs(2, 23, 8, 4, None, torch.float32, seed=11)
    grads = []
    for fn in (selective_scan_ref, _backend(backend, chunk_size=4)):
        u = ins["u"].clone().requires_grad_()
        fn(**{**ins, "u": u}, delta_softplus=True).square().sum().backward()
        grads.append(u.grad)
    assert_close("grad u", grads[1], grads[0], torch.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_groups_must_divide_channels(backend: str) -> None:
    ins = make_inputs(1, 8, 6, 4, 4, torch.float32, seed=0)
    with pytest.raises(ValueError, match="not divisible"):
        _backend(backend)(**ins)
