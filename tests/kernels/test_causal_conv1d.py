"""genomamba_kernels.causal_conv1d_triton against `causal_conv1d_ref`: output, final state and every
gradient (x, weight, bias, carried state), odd lengths, strided x, fp32 and bf16."""

from __future__ import annotations

import pytest
import torch

from genomamba.ops.causal_conv1d import causal_conv1d_ref
from genomamba_kernels import causal_conv1d_triton

from .helpers import assert_close


def run_conv(Bsz, L, D, K, dtype, device, state=True, bias=True, act="silu", strided=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    if strided:  # x as the first half of a wider [B, L, 2D] tensor (the mixer's in_proj output)
        x = torch.randn(Bsz, L, 2 * D, generator=g).to(dtype).to(device)[..., :D]
    else:
        x = torch.randn(Bsz, L, D, generator=g).to(dtype).to(device)
    w = (0.5 * torch.randn(D, 1, K, generator=g)).to(device)
    b = torch.randn(D, generator=g).to(device) if bias else None
    st = torch.randn(Bsz, D, K - 1, generator=g).to(dtype).to(device) if state else None
    leaves = [t for t in (x, w, b, st) if t is not None]
    for t in leaves:
        t.requires_grad_()
    out, fin = causal_conv1d_triton(x, w, b, st, act, return_final_state=True)
    ref, fin_ref = causal_conv1d_ref(x, w, b, st, act, return_final_state=True)
    assert out.dtype == dtype and out.shape == (Bsz, L, D)
    assert_close("out", out, ref, dtype)
    assert_close("final_state", fin, fin_ref, dtype)
    dout = torch.randn(out.shape, generator=g).to(device, dtype)
    grads = torch.autograd.grad((out * dout).float().sum(), leaves)
    grads_ref = torch.autograd.grad((ref * dout).float().sum(), leaves)
    for name, a, r in zip(["dx", "dw", "dbias", "dstate"], grads, grads_ref):
        assert_close(name, a, r, dtype)


CASES = [
    pytest.param(2, 37, 12, 4, torch.float32, True, True, "silu", False, id="B2-L37-D12-K4-f32"),
    pytest.param(1, 2, 8, 4, torch.float32, True, True, "silu", False, id="B1-L2-D8-K4-f32-short"),
    pytest.param(2, 21, 10, 3, torch.float32, False, False, None, True, id="B2-L21-D10-K3-f32-nostate-strided"),
    pytest.param(2, 33, 16, 4, torch.bfloat16, True, True, "silu", True, id="B2-L33-D16-K4-bf16-strided"),
]


@pytest.mark.parametrize("Bsz,L,D,K,dtype,state,bias,act,strided", CASES)
def test_causal_conv1d_matches_reference(Bsz, L, D, K, dtype, state, bias, act, strided, device):
    run_conv(Bsz, L, D, K, dtype, device, state, bias, act, strided)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_causal_conv1d_full_size(dtype):
    run_conv(2, 8191, 512, 4, dtype, torch.device("cuda"), strided=True)
