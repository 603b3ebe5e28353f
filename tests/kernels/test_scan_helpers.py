"""The scan kernels' jit helpers on their own: the lane sum of the backward's dB/dC (`_sum_lanes`, a tl.split
halving) against torch's sum at every width the tiles use, the MUFU softplus against torch's softplus, and the
FMA-pipe 2^x of forward pass 1 against torch's exp2.
On the CPU they run under Triton's interpreter (the portable forms); on a GPU, compiled (the lane exchange and the
inline PTX lg2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from genomamba_kernels.common import _exp2_fma, _softplus
from genomamba_kernels.selective_scan import _sum_lanes


@triton.jit
def _sum_lanes_kernel(x_ptr, out_ptr, R0: tl.constexpr, R1: tl.constexpr, W: tl.constexpr):
    i = tl.arange(0, R0)[:, None, None]
    j = tl.arange(0, R1)[None, :, None]
    k = tl.arange(0, W)[None, None, :]
    x = tl.load(x_ptr + (i * R1 + j) * W + k)
    tl.store(out_ptr + tl.arange(0, R0)[:, None] * R1 + tl.arange(0, R1)[None, :], _sum_lanes(x, R0, R1, W))


@triton.jit
def _softplus_kernel(v_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, _softplus(tl.load(v_ptr + offs, mask=m, other=0.0)), mask=m)


@triton.jit
def _exp2_fma_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, _exp2_fma(tl.load(x_ptr + offs, mask=m, other=0.0)), mask=m)


@pytest.mark.parametrize("R0,R1,W", [(4, 16, 1), (4, 16, 2), (4, 16, 8), (2, 8, 16), (1, 4, 64)],
                         ids=["w1", "w2", "w8", "w16", "w64"])
def test_sum_lanes_matches_torch_sum(R0, R1, W, device):
    x = torch.randn(R0, R1, W, generator=torch.Generator().manual_seed(W)).to(device)
    out = torch.full((R0, R1), float("nan"), device=device)
    _sum_lanes_kernel[(1,)](x, out, R0=R0, R1=R1, W=W, num_warps=1)
    torch.testing.assert_close(out, x.sum(-1), rtol=1e-6, atol=1e-6)


def test_softplus_matches_torch(device):
    """Over the range delta pre-activations take (Mamba's dt_bias starts softplus at 1e-3..1e-1, i.e. v ~ -7..-2),
    and past the linear threshold (v > 20) and the exp overflow (v > 88)."""
    v = torch.cat([torch.linspace(-30.0, 30.0, 6001), torch.tensor([-100.0, 19.99, 20.0, 20.01, 89.0, 500.0])])
    v = v.to(device)
    out = torch.empty_like(v)
    with np.errstate(over="ignore"):  # the interpreter's exp2 overflows past v = 88, as the GPU's does (the
        # select then takes v)
        _softplus_kernel[(triton.cdiv(v.numel(), 1024),)](v, out, v.numel(), BLOCK=1024)
    ref = torch.nn.functional.softplus(v.double(), threshold=20.0).float()
    # relative to the value where it is O(1) or more, absolute (a few fp32 ulps of 1) where it is tiny
    torch.testing.assert_close(out, ref, rtol=2e-6, atol=3e-7)
    assert torch.isfinite(out).all()


def test_exp2_fma_matches_torch(device):
    """2^x on the FMA pipe over the decays' range x = delta * A * log2(e) <= 0: within 3e-7 of exp2 relative to the
    value (as MUFU's ex2.approx) down to -125, exact at 0 (padded steps' decay is 1), at the rounding ties (f = -0.5),
    and, below -125 where 2^x underflows, 2^-125 (a decay of 2e-38, as good as 0 against a state of O(1))."""
    g = torch.Generator().manual_seed(0)
    x = torch.cat([-torch.rand(20000, generator=g, dtype=torch.float64) * 124.9, -torch.rand(2000, generator=g) * 1e-3,
                   torch.tensor([0.0, -0.5, -1.5, -2.5, -1e-30, -124.99])]).float()
    low = torch.tensor([-125.5, -200.0, -1e30])
    out = torch.empty(x.numel() + low.numel())
    xs = torch.cat([x, low]).to(device)
    out = out.to(device)
    _exp2_fma_kernel[(triton.cdiv(xs.numel(), 1024),)](xs, out, xs.numel(), BLOCK=1024)
    out = out.cpu()
    torch.testing.assert_close(out[: x.numel()].double(), torch.exp2(x.double()), rtol=3e-7, atol=0.0)
    assert out[x.numel() - 6] == 1.0  # x = 0
    torch.testing.assert_close(out[x.numel():], torch.full((low.numel(),), 2.0 ** -125), rtol=1e-6, atol=0.0)
