import pytest
import torch

from genomamba.ops import resolve_backend, selective_scan, set_backend_override


def _inputs(B=2, D=4, N=3, L=19):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(B, D, L, generator=g), torch.randn(B, D, L, generator=g),
            -torch.rand(D, N, generator=g) - 0.1, torch.randn(B, N, L, generator=g), torch.randn(B, N, L, generator=g))


def test_auto_picks_torch_on_cpu():
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
