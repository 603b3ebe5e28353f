"""genomamba_kernels.bidirectional_selective_scan_triton against `bidirectional_selective_scan_ref` (two
`selective_scan_ref` calls: left to right, and right to left with reverse=True)."""

from __future__ import annotations

import pytest
import torch

from genomamba.ops.selective_scan_ref import bidirectional_selective_scan_ref
from genomamba_kernels import bidirectional_selective_scan_triton

from .helpers import assert_close


def _direction(Bsz, Dm, N, L, dtype, device, g, groups, full):
    bc = (Bsz, N, L) if groups is None else (Bsz, groups, N, L)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return [(0.5 * r(Bsz, Dm, L)).to(dtype).to(device), (-(0.5 + torch.rand(Dm, N, generator=g))).to(device),
            r(*bc).to(dtype).to(device), r(*bc).to(dtype).to(device),
            r(Dm).to(device) if full else None, (0.3 * r(Dm)).to(device) if full else None]


def run_bidirectional(Bsz, Dm, N, L, dtype, device, groups=None, full=True, varlen=False, chunk_size=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(Bsz, Dm, L, generator=g).to(dtype).to(device)
    z = torch.randn(Bsz, Dm, L, generator=g).to(dtype).to(device) if full else None
    pf = _direction(Bsz, Dm, N, L, dtype, device, g, groups, full)
    pb = _direction(Bsz, Dm, N, L, dtype, device, g, groups, full)
    seq = None
    if varlen:
        seq = torch.zeros(Bsz, L, dtype=torch.int64)
        seq[:, L // 3:] = 1
        seq[:, L // 2:] = 2
        seq = seq.to(device)
    names = ["u", "z"] + [f"{n}_f" for n in ("delta", "A", "B", "C", "D", "delta_bias")] + \
        [f"{n}_b" for n in ("delta", "A", "B", "C", "D", "delta_bias")]
    tensors = [u, z, *pf, *pb]
    leaves = {n: t.requires_grad_() for n, t in zip(names, tensors) if t is not None}
    y = bidirectional_selective_scan_triton(u, *pf, *pb, z=z, delta_softplus=full, seq_idx=seq, chunk_size=chunk_size)
    y_ref = bidirectional_selective_scan_ref(u, *pf, *pb, z=z, delta_softplus=full, seq_idx=seq)
    assert y.dtype == dtype
    assert_close("y", y, y_ref, dtype)
    dy = torch.randn(y.shape, generator=g).to(device, dtype)
    keys = list(leaves)
    grads = torch.autograd.grad((y * dy).float().sum(), [leaves[k] for k in keys])
    grads_ref = torch.autograd.grad((y_ref * dy).float().sum(), [leaves[k] for k in keys])
    for k, a, b in zip(keys, grads, grads_ref):
        assert_close(f"d{k}", a, b, dtype)


CASES = [
    ("B2-L37-D8-N4-fp32", 2, 8, 4, 37, "fp32", {}),
    ("B2-L37-D8-N4-bf16", 2, 8, 4, 37, "bf16", {}),
    ("B1-L30-D4-N4-fp32-plain", 1, 4, 4, 30, "fp32", {"full": False}),
    ("B2-L45-D8-N4-fp32-varlen-G2-chunk16", 2, 8, 4, 45, "fp32", {"varlen": True, "groups": 2, "chunk_size": 16}),
]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@pytest.mark.parametrize("Bsz,Dm,N,L,dt,opts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bidirectional_matches_ref(Bsz, Dm, N, L, dt, opts, device):
    run_bidirectional(Bsz, Dm, N, L, DTYPES[dt], device, **opts)


def test_mismatched_optional_pairs_raise(device):
    g = torch.Generator().manual_seed(0)
    u = torch.randn(1, 4, 8, generator=g)
    pf = _direction(1, 4, 4, 8, torch.float32, "cpu", g, None, True)
    pb = _direction(1, 4, 4, 8, torch.float32, "cpu", g, None, True)
    pb[4] = None
    with pytest.raises(ValueError, match="D_f and D_b"):
        bidirectional_selective_scan_triton(u, *pf, *pb)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dt", ["fp32", "bf16"])
def test_bidirectional_gpu(dt):
    run_bidirectional(2, 64, 16, 4099, DTYPES[dt], torch.device("cuda"))
    run_bidirectional(1, 32, 16, 5000, DTYPES[dt], torch.device("cuda"), varlen=True, chunk_size=1024, groups=2)
