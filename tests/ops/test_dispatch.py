import importlib

import pytest
import torch

from genomamba.ops import resolve_backend, selective_scan, set_backend_override


def _inputs(B=2, D=4, N=3, L=19):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(B, D, L, generator=g), torch.randn(B, D, L, generator=g),
            -torch.rand(D, N, generator=g) - 0.1, torch.randn(B, N, L, generator=g), torch.randn(B, N, L, generator=g))


def test_auto_picks_numba_on_cpu_else_torch(monkeypatch):
    dispatch = importlib.import_module("genomamba.ops.selective_scan")  # the module, not the function

    assert resolve_backend("auto", torch.device("cpu")) == ("numba" if dispatch.numba_available() else "torch")
    monkeypatch.setattr(dispatch, "numba_available", lambda: False)
    assert resolve_backend("auto", torch.device("cpu")) == "torch"


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown scan backend"):
        resolve_backend("cuda", torch.device("cpu"))


def test_override_and_backends_agree():
    args = _inputs()
    ref = selective_scan(*args, delta_softplus=True, backend="ref")
    try:
        set_backend_override("ref")
        assert resolve_backend("auto", torch.device("cpu")) == "ref"
    finally:
        set_backend_override(None)
    torch.testing.assert_close(selective_scan(*args, delta_softplus=True, backend="torch"), ref, rtol=1e-4, atol=1e-5)


def test_conv_and_mixer_interior_dispatch_agree_with_their_references():
    """causal_conv1d and mamba_inner on the torch backend compute their references' function."""
    from genomamba.ops import causal_conv1d, causal_conv1d_ref, mamba_inner, mamba_inner_ref

    g = torch.Generator().manual_seed(1)
    Bsz, L, Di, N, R, K, dm = 2, 11, 6, 3, 2, 4, 5
    x = torch.randn(Bsz, L, Di, generator=g)
    w, b, st = torch.randn(Di, 1, K, generator=g), torch.randn(Di, generator=g), torch.randn(Bsz, Di, K - 1, generator=g)
    out, fin = causal_conv1d(x, w, b, st, return_final_state=True, backend="torch")
    out_ref, fin_ref = causal_conv1d_ref(x, w, b, st, return_final_state=True)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(fin, torch.cat([st, x.transpose(1, 2)], dim=-1)[..., -(K - 1):])
    args = (torch.randn(Bsz, L, 2 * Di, generator=g), w, b, torch.randn(R + 2 * N, Di, generator=g),
            torch.randn(Di, R, generator=g), torch.randn(Di, generator=g), -torch.rand(Di, N, generator=g) - 0.1,
            torch.randn(Di, generator=g), torch.randn(dm, Di, generator=g), R, N)
    got = mamba_inner(*args, backend="torch")
    want = mamba_inner_ref(*args)
    assert got[0].shape == (Bsz, L, dm)
    for a, r in zip(got, want):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-5)
