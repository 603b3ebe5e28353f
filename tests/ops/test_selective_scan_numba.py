"""`selective_scan_numba` (fused CPU kernels) against `selective_scan_ref`, as the torch backend is
tested: y, the final state and every input gradient (initial_state included), backpropagating
`(y * dy).sum() + (h * dh).sum()`; fp32 and bf16 inputs, odd lengths (not a multiple of the
64-step chunk), N not a multiple of the 16-lane block, reverse, seq_idx, groups. Also the fallback
to `torch` where numba does not import, and the accuracy of the kernel's exp.
"""

from __future__ import annotations

import builtins
import importlib
import zlib

import numpy as np
import pytest
import torch

from genomamba.ops.selective_scan_ref import selective_scan_ref
from tests.ops.test_selective_scan_torch import GRAD_NAMES, _id, assert_close, make_inputs, make_seq_idx

numba = pytest.importorskip("numba")

from genomamba.ops.selective_scan_numba import selective_scan_numba  # noqa: E402


def run_both(ins: dict[str, torch.Tensor], dtype: torch.dtype, **kw) -> None:
    results = []
    for fn in (selective_scan_ref, selective_scan_numba):
        x = {k: v.detach().clone().requires_grad_() for k, v in ins.items()}
        y, h = fn(**x, delta_softplus=True, return_final_state=True, **kw)
        g = torch.Generator().manual_seed(123)
        dy = torch.randn(y.shape, generator=g).to(y.dtype)
        dh = torch.randn(h.shape, generator=g)
        ((y * dy).float().sum() + (h * dh).sum()).backward()
        results.append((y, h, {k: x[k].grad for k in GRAD_NAMES}))
    (y_r, h_r, g_r), (y_n, h_n, g_n) = results
    assert_close("y", y_n, y_r, dtype)
    assert_close("final_state", h_n, h_r, dtype)
    for k in GRAD_NAMES:
        assert g_n[k] is not None, f"no gradient for {k}"
        assert_close(f"grad {k}", g_n[k], g_r[k], dtype)


# B, L, D, N, G, chunk_size (unused here), dtype, reverse, seq_idx: ids as in the torch tests
CASES = [
    (1, 1, 4, 2, None, None, torch.float32, False, False),
    (2, 37, 8, 4, None, None, torch.float32, False, False),
    (2, 37, 8, 4, None, None, torch.bfloat16, False, False),
    (2, 150, 8, 16, None, None, torch.float32, False, False),  # 3 chunks, the last one short
    (2, 145, 8, 4, None, None, torch.float32, True, False),
    (2, 150, 8, 4, None, None, torch.float32, False, True),
    (3, 141, 8, 20, None, None, torch.float32, True, True),  # N = 20: two 16-lane blocks
    (2, 137, 8, 4, 2, None, torch.float32, False, False),
    (2, 139, 12, 4, 3, None, torch.bfloat16, True, True),
    (1, 257, 32, 16, 2, None, torch.bfloat16, False, False),
]


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matches_ref_with_grads(case: tuple) -> None:
    Bsz, L, Dm, N, G, _, dtype, rev, seq = case
    seed = zlib.crc32(_id(case).encode()) % 10_000
    ins = make_inputs(Bsz, L, Dm, N, G, dtype, seed)
    run_both(ins, dtype, reverse=rev, seq_idx=make_seq_idx(Bsz, L, seed) if seq else None)


@pytest.mark.parametrize("threads", [1, 2], ids=["threads1", "threads2"])
def test_split_channels_across_threads(threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """B=1 splits each batch's channels into several work items whose dB and dC partials are summed."""
    monkeypatch.setattr(numba, "get_num_threads", lambda: 3 * threads)  # more items than channels / 3
    ins = make_inputs(1, 70, 7, 4, None, torch.float32, seed=17)
    run_both(ins, torch.float32, seq_idx=make_seq_idx(1, 70, 17))


def test_large_decay_stays_finite() -> None:
    """delta ~ 50 and |A| up to 4: every per-step decay underflows; no inf/nan may appear."""
    ins = make_inputs(2, 29, 8, 4, None, torch.float32, seed=7, big_delta=True)
    run_both(ins, torch.float32, seq_idx=make_seq_idx(2, 29, 7))


def test_exp_accuracy() -> None:
    """The kernel's polynomial exp: within 3e-7 + 1e-7 |x| relative over the range decays use (the
    second term is the fp32 rounding of x log2(e); it keeps a decay's absolute error below 4e-8),
    exactly 1 at 0, and never 0, inf or nan."""
    from genomamba.ops.selective_scan_numba import _FASTMATH, _exp

    @numba.njit(fastmath=_FASTMATH, error_model="numpy")
    def exp_all(x, out):
        for i in range(x.shape[0]):
            out[i] = _exp(x[i])

    x = np.concatenate([np.linspace(-86, 88, 400_001), [0.0, -1e-6, 1e-6, -200.0, 200.0]]).astype(np.float32)
    out = np.empty_like(x)
    exp_all(x, out)
    ref = np.exp(x.astype(np.float64))
    inside = np.abs(x) <= 88
    rel = np.abs(out[inside] / ref[inside] - 1)
    bound = 3e-7 + 1e-7 * np.abs(x[inside])
    assert (rel <= bound).all(), f"max rel err {rel.max():.2e}, worst excess at x = {x[inside][np.argmax(rel - bound)]}"
    assert out[x == 0.0][0] == 1.0
    assert np.isfinite(out).all() and (out > 0).all()


def test_dispatch_falls_back_to_torch_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    """With numba not importable, "auto" on CPU is torch and "numba" is a clear error."""
    import sys

    dispatch = importlib.import_module("genomamba.ops.selective_scan")  # the module, not the function

    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("No module named 'numba'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numba)
    monkeypatch.delitem(sys.modules, "genomamba.ops.selective_scan_numba")
    dispatch.numba_available.cache_clear()
    try:
        assert not dispatch.numba_available()
        assert dispatch.resolve_backend("auto", torch.device("cpu")) == "torch"
        with pytest.raises(RuntimeError, match="needs numba"):
            dispatch.resolve_backend("numba", torch.device("cpu"))
        ins = make_inputs(1, 9, 4, 2, None, torch.float32, seed=1)
        y = dispatch.selective_scan(**ins, delta_softplus=True)
        assert_close("y", y, selective_scan_ref(**ins, delta_softplus=True), torch.float32)
    finally:
        dispatch.numba_available.cache_clear()


def test_auto_dispatch_uses_numba_on_cpu() -> None:
    from genomamba.ops import resolve_backend, selective_scan

    assert resolve_backend("auto", torch.device("cpu")) == "numba"
    ins = make_inputs(2, 21, 4, 3, None, torch.float32, seed=2)
    y = selective_scan(**ins, delta_softplus=True)
    assert_close("y", y, selective_scan_ref(**ins, delta_softplus=True), torch.float32)
