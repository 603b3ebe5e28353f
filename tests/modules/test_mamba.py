"""MambaMixer: the fused path (Triton conv + strided scan; the interpreter on a CPU) computes the same
outputs, gradients and carried state as the torch path, and takes its shape from a MambaConfig."""

from __future__ import annotations

import pytest
import torch

from genomamba.models import MambaConfig
from genomamba.modules import BiMambaMixer, MambaMixer

pytest.importorskip("triton")

# the fused path compiled on a GPU, through Triton's interpreter elsewhere
DEV = "cuda" if torch.cuda.is_available() else "cpu"


def _pair(mixer_cls, backend, **cfg):
    """Two mixers with the same weights, one on `backend`, one on the torch path."""
    torch.manual_seed(0)
    a = mixer_cls(MambaConfig(scan_backend=backend, **cfg))
    b = mixer_cls(MambaConfig(scan_backend="torch", **cfg))
    b.load_state_dict(a.state_dict())
    return a, b


def _compare(a, b, x, dtype, state_a=None, state_b=None, tol=2e-4):
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
        ya, sa = a(xa, state_a)
        yb, sb = b(xb, state_b)
    dy = torch.randn_like(ya.float())
    ((ya.float() * dy).sum()).backward()
    ((yb.float() * dy).sum()).backward()
    scale = lambda t: max(t.abs().max().item(), 1.0)  # noqa: E731
    err = (ya.float() - yb.float()).abs().max().item()
    assert err <= tol * scale(yb), f"y: max abs err {err:.2e}"
    gerr = (xa.grad - xb.grad).abs().max().item()
    assert gerr <= tol * scale(xb.grad), f"dx: max abs err {gerr:.2e}"
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        e = (pa.grad - pb.grad).abs().max().item()
        assert e <= tol * scale(pb.grad), f"d{name}: max abs err {e:.2e} (max |ref| {scale(pb.grad):.2e})"
    return sa, sb


def test_mixer_takes_its_shape_from_the_config():
    m = MambaMixer(MambaConfig(d_model=16, d_state=4, d_conv=3, expand=3, dt_rank=2))
    assert (m.d_inner, m.dt_rank, m.d_conv, m.d_state) == (48, 2, 3, 4)
    assert m.conv1d.weight.shape == (48, 1, 3) and m.x_proj.out_features == 2 + 2 * 4


@pytest.mark.parametrize("L", [1, 19])
def test_fused_mixer_matches_torch_path_with_carried_state(L):
    a, b = _pair(MambaMixer, "triton", d_model=8, d_state=4, expand=2)
    a, b = a.to(DEV), b.to(DEV)
    x = torch.randn(2, L, 8, device=DEV)
    s0a, s0b = a.allocate_state(2, DEV), b.allocate_state(2, DEV)
    s0a = s0b = type(s0a)(torch.randn_like(s0a.conv), torch.randn_like(s0a.ssm))
    sa, sb = _compare(a, b, x, torch.float32, s0a, s0b)
    for name, ta, tb in zip(("conv", "ssm"), sa, sb):
        assert torch.allclose(ta, tb, rtol=1e-4, atol=1e-5), f"{name} state differs"


def test_fused_bimamba_matches_torch_path():
    a, b = _pair(BiMambaMixer, "triton", d_model=8, d_state=4)
    _compare(a.to(DEV), b.to(DEV), torch.randn(2, 13, 8, device=DEV), torch.float32)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mixer_cls", [MambaMixer, BiMambaMixer], ids=["causal", "bidirectional"])
def test_fused_mixer_matches_torch_path_gpu_bf16(mixer_cls):
    a, b = _pair(mixer_cls, "triton", d_model=64, d_state=16)
    a, b = a.cuda(), b.cuda()
    _compare(a, b, torch.randn(2, 2049, 64, device="cuda"), torch.bfloat16, tol=3e-2)
