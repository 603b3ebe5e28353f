"""The rows conv kernels (GENOMAMBA_CONV_BWD=new, GENOMAMBA_CONV_FWD=new) against `causal_conv1d_ref`:
every gradient (dx into a strided buffer, dweight, dbias, dstate) and the output, odd lengths (shorter
than the taps too), odd channel counts, with and without state, seq_idx, bias and SiLU, fp32 and bf16;
on the GPU, new against old at full size."""

from __future__ import annotations

import pytest
import torch
from genomamba_kernels.causal_conv1d import _causal_conv1d_bwd, _causal_conv1d_fwd

from genomamba.ops.causal_conv1d import causal_conv1d_ref

from .helpers import assert_close


def make_inputs(Bsz, L, D, K, dtype, device, state, seq, bias, seed=0):
    """x as a strided slice of a wider `[B, L, 2D+1]` tensor, weight `[D, K]`, bias, state, seq_idx, dout."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(Bsz, L, 2 * D + 1, generator=g).to(dtype).to(device)[..., 1:D + 1]
    w = (0.5 * torch.randn(D, K, generator=g)).to(device)
    b = torch.randn(D, generator=g).to(device) if bias else None
    st = torch.randn(Bsz, D, K - 1, generator=g).to(dtype).to(device) if state else None
    sq = None
    if seq:  # packed sequences of lengths 1..5, some shorter than the taps
        sq = torch.cumsum(torch.rand(Bsz, L, generator=g) < 0.3, dim=1).to(torch.int32).to(device)
    dout = torch.randn(Bsz, L, D, generator=g).to(dtype).to(device)
    return x, w, b, st, sq, dout


def reference(x, w, b, st, sq, dout, silu):
    leaves = [t.detach().clone().requires_grad_() for t in (x, w, b, st) if t is not None]
    it = iter(leaves)
    xr, wr = next(it), next(it)
    br = next(it) if b is not None else None
    sr = next(it) if st is not None else None
    out = causal_conv1d_ref(xr, wr[:, None, :], br, sr, "silu" if silu else None, seq_idx=sq)
    grads = torch.autograd.grad((out.float() * dout.float()).sum(), leaves)
    it = iter(grads)
    dx, dw = next(it), next(it)
    return out, dx, dw, next(it) if b is not None else None, next(it) if st is not None else None


def check(Bsz, L, D, K, dtype, device, state=True, seq=False, bias=True, silu=True, seed=0):
    x, w, b, st, sq, dout = make_inputs(Bsz, L, D, K, dtype, device, state, seq, bias, seed)
    out_ref, dx_ref, dw_ref, db_ref, dst_ref = reference(x, w, b, st, sq, dout, silu)
    assert_close("out", _causal_conv1d_fwd(x, w, b, st, silu, sq), out_ref, dtype)
    buf = torch.full((Bsz, L + 1, 2 * D + 3), 7.0, dtype=dtype, device=device)  # dx as a slice of a fused dxz
    dx_buf = buf[:, 1:, 2:D + 2]
    dx, dst, dw, db = _causal_conv1d_bwd(x, w, b, st, dout, silu, dx=dx_buf, seq=sq)
    assert dx.data_ptr() == dx_buf.data_ptr()
    rest = buf.clone()
    rest[:, 1:, 2:D + 2] = 7.0
    assert (rest == 7.0).all(), "a write outside dx's slice"
    for name, got, want in [("dx", dx, dx_ref), ("dw", dw, dw_ref), ("dbias", db, db_ref), ("dstate", dst, dst_ref)]:
        assert_close(name, got, want, dtype)


CASES = [  # Bsz, L, D, K, dtype, state, seq, bias, silu
    pytest.param(2, 37, 11, 4, torch.float32, True, False, True, True, id="B2-L37-D11-K4-f32"),
    pytest.param(1, 1, 5, 4, torch.float32, True, True, True, True, id="B1-L1-D5-K4-f32-seq"),
    pytest.param(2, 3, 12, 4, torch.bfloat16, True, False, False, False, id="B2-L3-D12-K4-bf16-nobias-nosilu"),
    pytest.param(1, 100, 9, 4, torch.bfloat16, True, True, True, True, id="B1-L100-D9-K4-bf16-seq"),
    pytest.param(2, 37, 8, 3, torch.float32, False, True, False, True, id="B2-L37-D8-K3-f32-nostate-seq-nobias"),
    pytest.param(1, 2, 7, 2, torch.float32, True, False, True, True, id="B1-L2-D7-K2-f32"),
    pytest.param(1, 21, 16, 4, torch.float32, False, False, True, False, id="B1-L21-D16-K4-f32-nostate-nosilu"),
    pytest.param(1, 13, 6, 5, torch.float32, True, True, True, True, id="B1-L13-D6-K5-f32-seq-fallback"),
]


@pytest.mark.parametrize("Bsz,L,D,K,dtype,state,seq,bias,silu", CASES)
def test_rows_kernels_match_reference(Bsz, L, D, K, dtype, state, seq, bias, silu, device, monkeypatch):
    monkeypatch.setenv("GENOMAMBA_CONV_BWD", "new")
    monkeypatch.setenv("GENOMAMBA_CONV_FWD", "new")
    check(Bsz, L, D, K, dtype, device, state, seq, bias, silu)


def test_bad_choice_raises(device, monkeypatch):
    monkeypatch.setenv("GENOMAMBA_CONV_BWD", "fast")
    x, w, b, st, _, dout = make_inputs(1, 4, 4, 4, torch.float32, device, True, False, True)
    with pytest.raises(ValueError, match="GENOMAMBA_CONV_BWD"):
        _causal_conv1d_bwd(x, w, b, st, dout, True)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("Bsz,L", [(1, 131072), (8, 16384)], ids=["B1-L131072", "B8-L16384"])
def test_rows_kernels_match_old_full_size(Bsz, L, monkeypatch):
    dev, D, K = torch.device("cuda"), 512, 4
    x, w, b, st, _, dout = make_inputs(Bsz, L, D, K, torch.bfloat16, dev, True, False, True)
    got = {}
    for choice in ("old", "new"):
        monkeypatch.setenv("GENOMAMBA_CONV_BWD", choice)
        monkeypatch.setenv("GENOMAMBA_CONV_FWD", choice)
        got[choice] = (_causal_conv1d_fwd(x, w, b, st, True), *_causal_conv1d_bwd(x, w, b, st, dout, True))
    for name, new, old in zip(["out", "dx", "dstate", "dw", "dbias"], got["new"], got["old"]):
        assert_close(name, new, old, torch.bfloat16 if name in ("out", "dx", "dstate") else torch.float32)
