"""genomamba_kernels.causal_conv1d_triton with seq_idx (packed sequences) against `causal_conv1d_ref`:
output, final state and every gradient (x, weight, bias, carried state), odd lengths, fp32 and bf16."""

from __future__ import annotations

import pytest
import torch

from genomamba.ops.causal_conv1d import causal_conv1d_ref
from genomamba_kernels import causal_conv1d_triton

from .helpers import assert_close


def random_seq_idx(Bsz, L, g):
    """Rows of packed sequences of random lengths 1..7 (so some are shorter than the conv taps)."""
    rows = []
    for _ in range(Bsz):
        lengths = []
        while sum(lengths) < L:
            lengths.append(int(torch.randint(1, 8, (1,), generator=g)))
        rows.append(torch.cat([torch.full((n,), i) for i, n in enumerate(lengths)])[:L])
    return torch.stack(rows)


def run_conv_seq(Bsz, L, D, K, dtype, device, state=True, strided=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(Bsz, L, 2 * D if strided else D, generator=g).to(dtype).to(device)[..., :D]
    w = (0.5 * torch.randn(D, 1, K, generator=g)).to(device)
    b = torch.randn(D, generator=g).to(device)
    st = torch.randn(Bsz, D, K - 1, generator=g).to(dtype).to(device) if state else None
    seq = random_seq_idx(Bsz, L, g).to(device)
    leaves = [t for t in (x, w, b, st) if t is not None]
    for t in leaves:
        t.requires_grad_()
    out, fin = causal_conv1d_triton(x, w, b, st, "silu", return_final_state=True, seq_idx=seq)
    ref, fin_ref = causal_conv1d_ref(x, w, b, st, "silu", return_final_state=True, seq_idx=seq)
    assert_close("out", out, ref, dtype)
    assert_close("final_state", fin, fin_ref, dtype)
    dout = torch.randn(out.shape, generator=g).to(device, dtype)
    grads = torch.autograd.grad((out * dout).float().sum(), leaves)
    grads_ref = torch.autograd.grad((ref * dout).float().sum(), leaves)
    for name, a, r in zip(["dx", "dw", "dbias", "dstate"], grads, grads_ref):
        assert_close(name, a, r, dtype)


@pytest.mark.parametrize("Bsz,L,D,K,dtype,state,strided", [
    pytest.param(2, 37, 12, 4, torch.float32, True, False, id="B2-L37-D12-K4-f32"),
    pytest.param(1, 19, 8, 3, torch.float32, False, True, id="B1-L19-D8-K3-f32-nostate-strided"),
    pytest.param(2, 33, 16, 4, torch.bfloat16, True, True, id="B2-L33-D16-K4-bf16-strided"),
])
def test_causal_conv1d_seq_idx_matches_reference(Bsz, L, D, K, dtype, state, strided, device):
    run_conv_seq(Bsz, L, D, K, dtype, device, state, strided)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_causal_conv1d_seq_idx_full_size():
    run_conv_seq(2, 8191, 512, 4, torch.bfloat16, torch.device("cuda"), strided=True)
