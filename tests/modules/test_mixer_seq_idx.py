"""The fused mixers (Triton; the interpreter on a CPU) with seq_idx: outputs, every gradient and the
carried state equal the torch path's on packed rows (sequences shorter than the conv included)."""

from __future__ import annotations

import pytest
import torch

from genomamba.models import MambaConfig
from genomamba.modules import BiMambaMixer, MambaMixer

pytest.importorskip("triton")

SEQ_IDX = torch.tensor([[0] * 5 + [1] + [2] * 2 + [3] * 9, [0] * 11 + [1] * 6])  # (2, 17)


def _run(mixer, x, seq_idx, state, dy):
    x = x.clone().requires_grad_()
    y, s = mixer(x, state, seq_idx)
    (y * dy).sum().backward()
    return y, s, x.grad, {n: p.grad for n, p in mixer.named_parameters()}


@pytest.mark.parametrize("mixer_cls", [MambaMixer, BiMambaMixer], ids=["causal", "bidirectional"])
def test_fused_mixer_with_seq_idx_matches_torch_path(mixer_cls):
    torch.manual_seed(0)
    cfg = dict(d_model=8, d_state=4, expand=2)
    dev = "cuda" if torch.cuda.is_available() else "cpu"  # Triton runs on CUDA tensors, or the interpreter's
    a = mixer_cls(MambaConfig(scan_backend="triton", **cfg)).to(dev)
    b = mixer_cls(MambaConfig(scan_backend="torch", **cfg)).to(dev)
    b.load_state_dict(a.state_dict())
    x, dy = torch.randn(2, 17, 8, device=dev), torch.randn(2, 17, 8, device=dev)
    seq_idx = SEQ_IDX.to(dev)
    state = None
    if mixer_cls is MambaMixer:
        s0 = a.allocate_state(2)
        state = type(s0)(torch.randn_like(s0.conv), torch.randn_like(s0.ssm))
    ya, sa, dxa, ga = _run(a, x, seq_idx, state, dy)
    yb, sb, dxb, gb = _run(b, x, seq_idx, state, dy)
    torch.testing.assert_close(ya, yb, rtol=2e-4, atol=2e-4)
    torch.testing.assert_close(dxa, dxb, rtol=2e-4, atol=2e-4)
    for n in gb:
        torch.testing.assert_close(ga[n], gb[n], rtol=2e-4, atol=2e-4, msg=lambda m: f"d{n}: {m}")
    if state is not None:
        for ta, tb in zip(sa, sb):
            torch.testing.assert_close(ta, tb, rtol=1e-4, atol=1e-5)
    with torch.no_grad():  # and seq_idx matters: without it the output differs
        assert not torch.allclose(b(x, state)[0], yb, atol=1e-3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mixer_cls", [MambaMixer, BiMambaMixer], ids=["causal", "bidirectional"])
def test_fused_mixer_with_seq_idx_matches_torch_path_gpu_bf16(mixer_cls):
    torch.manual_seed(0)
    cfg = dict(d_model=64, d_state=16)
    a = mixer_cls(MambaConfig(scan_backend="triton", **cfg)).cuda()
    b = mixer_cls(MambaConfig(scan_backend="torch", **cfg)).cuda()
    b.load_state_dict(a.state_dict())
    L = 2049
    seq_idx = (torch.arange(L, device="cuda") // 300).repeat(2, 1)
    seq_idx[1] = torch.arange(L, device="cuda") // 7  # many sequences shorter than anything else
    x, dy = torch.randn(2, L, 64, device="cuda"), torch.randn(2, L, 64, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        ya, _, dxa, ga = _run(a, x, seq_idx, None, dy)
        yb, _, dxb, gb = _run(b, x, seq_idx, None, dy)
    scale = lambda t: max(t.abs().max().item(), 1.0)  # noqa: E731
    assert (ya.float() - yb.float()).abs().max() <= 3e-2 * scale(yb)
    assert (dxa - dxb).abs().max() <= 3e-2 * scale(dxb)
    for n in gb:
        assert (ga[n] - gb[n]).abs().max() <= 3e-2 * scale(gb[n]), f"d{n}"
