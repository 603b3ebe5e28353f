"""The scan kernels' jit helpers on their own: the lane sum of the backward's dB/dC (`_sum_lanes`, a tl.split
halving) against torch's sum at every width the tiles use, and the MUFU softplus against torch's softplus.
On the CPU they run under Triton's interpreter (the portable forms); on a GPU, compiled (the lane exchange and the
inline PTX lg2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from genomamba_kernels.common import _softplus
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
