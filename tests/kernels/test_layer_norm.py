"""genomamba_kernels.add_rms_norm_triton against `add_rms_norm_ref`: y, the fp32 residual stream r
and every gradient (x, residual, weight), with and without an incoming residual, prenorm or not,
odd widths and row counts, fp32 and bf16 x."""

from __future__ import annotations

import pytest
import torch

from genomamba.ops.add_norm import add_rms_norm_ref
from genomamba_kernels import add_rms_norm_triton

from .helpers import assert_close


def run_add_norm(shape, dtype, device, residual=True, prenorm=True, use_r=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    N = shape[-1]
    x = torch.randn(shape, generator=g).to(dtype).to(device).requires_grad_()
    res = (2 * torch.randn(shape, generator=g)).to(device).requires_grad_() if residual else None
    w = (1 + 0.3 * torch.randn(N, generator=g)).to(device).requires_grad_()
    leaves = [t for t in (x, res, w) if t is not None]
    got = add_rms_norm_triton(x, res, w, 1e-5, prenorm)
    want = add_rms_norm_ref(x, res, w, 1e-5, prenorm)
    got, want = (got, want) if prenorm else ((got,), (want,))
    assert got[0].dtype == dtype and got[0].shape == shape
    assert_close("y", got[0], want[0], dtype)
    if prenorm:
        assert got[1].dtype == torch.float32
        assert_close("residual_out", got[1], want[1], torch.float32)
    dy = torch.randn(shape, generator=g).to(device, dtype)
    dr = torch.randn(shape, generator=g).to(device)

    def loss(outs):
        total = (outs[0] * dy).float().sum()
        return total + (outs[1] * dr).sum() if prenorm and use_r else total

    grads = torch.autograd.grad(loss(got), leaves)
    grads_ref = torch.autograd.grad(loss(want), leaves)
    for name, a, b in zip(["dx", "dresidual", "dweight"] if residual else ["dx", "dweight"], grads, grads_ref):
        assert a.dtype == b.dtype, f"{name}: dtype {a.dtype} != {b.dtype}"
        assert_close(name, a, b, dtype)


CASES = [
    pytest.param((2, 37, 24), torch.float32, True, True, True, id="B2-L37-N24-f32-residual-prenorm"),
    pytest.param((3, 11, 19), torch.float32, False, True, True, id="B3-L11-N19-f32-first-block"),
    pytest.param((2, 13, 16), torch.float32, True, False, True, id="B2-L13-N16-f32-final-norm"),
    pytest.param((1, 9, 16), torch.float32, True, True, False, id="B1-L9-N16-f32-residual-out-unused"),
    pytest.param((2, 29, 40), torch.bfloat16, True, True, True, id="B2-L29-N40-bf16-residual-prenorm"),
    pytest.param((2, 7, 33), torch.bfloat16, False, True, True, id="B2-L7-N33-bf16-first-block"),
    pytest.param((5, 21), torch.bfloat16, True, False, True, id="M5-N21-bf16-final-norm-2d"),
]


@pytest.mark.parametrize("shape,dtype,residual,prenorm,use_r", CASES)
def test_add_rms_norm_matches_reference(shape, dtype, residual, prenorm, use_r, device):
    run_add_norm(shape, dtype, device, residual, prenorm, use_r)


def test_add_rms_norm_no_grad_writes_no_stream(device):
    """Inference (no grad, final norm): y alone, still matching the reference."""
    x, res, w = torch.randn(3, 5, 16, device=device), torch.randn(3, 5, 16, device=device), torch.rand(16, device=device)
    with torch.inference_mode():
        got = add_rms_norm_triton(x, res, w, 1e-5, prenorm=False)
    assert_close("y", got, add_rms_norm_ref(x, res, w, 1e-5), torch.float32)


def test_add_rms_norm_rejects_mismatched_shapes(device):
    x = torch.randn(2, 4, 8, device=device)
    with pytest.raises(ValueError, match="residual shape"):
        add_rms_norm_triton(x, torch.randn(2, 4, 9, device=device), torch.ones(8, device=device))
    with pytest.raises(ValueError, match="weight shape"):
        add_rms_norm_triton(x, None, torch.ones(9, device=device))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_add_rms_norm_full_size(dtype):
    run_add_norm((2, 8191, 256), dtype, torch.device("cuda"))
