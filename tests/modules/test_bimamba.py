"""Bidirectional Mamba: the op equals two reference scans, the mixer sees both sides, the masked-LM
objective trains it, and the likelihood scorers refuse it."""

from __future__ import annotations

import pytest
import torch

from genomamba.errors import GenomambaError
from genomamba.io.fasta import FastaReader
from genomamba.lit.pretrain import PretrainLitModule, masked_base_loss
from genomamba.models import CharMambaLM, MambaConfig
from genomamba.ops import bidirectional_selective_scan, selective_scan_ref
from genomamba.scoring.likelihood import score_sequence


@pytest.mark.parametrize("backend", ["ref", "torch", "triton"])  # triton: the interpreter on a CPU
@pytest.mark.parametrize("L", [1, 17, 64])
def test_bidirectional_op_equals_two_reference_scans(backend, L):
    g = torch.Generator().manual_seed(L)
    Bsz, D, N = 2, 6, 4
    u, z = torch.randn(Bsz, D, L, generator=g), torch.randn(Bsz, D, L, generator=g)
    f = [torch.randn(Bsz, D, L, generator=g) - 1, -torch.rand(D, N, generator=g) - 0.2,
         torch.randn(Bsz, N, L, generator=g), torch.randn(Bsz, N, L, generator=g), torch.randn(D, generator=g),
         torch.randn(D, generator=g)]
    b = [torch.randn_like(t) if t.dim() != 2 else -torch.rand(D, N, generator=g) - 0.2 for t in f]
    leaves = [t.requires_grad_() for t in [u, z, *f, *b]]
    y = bidirectional_selective_scan(u, *f, *b, z=z, backend=backend)
    dy = torch.randn_like(y)
    grads = torch.autograd.grad((y * dy).sum(), leaves)
    ref = (selective_scan_ref(u, f[0], f[1], f[2], f[3], f[4], z, f[5], True)
           + selective_scan_ref(u, b[0], b[1], b[2], b[3], b[4], z, b[5], True, reverse=True))
    ref_grads = torch.autograd.grad((ref * dy).sum(), leaves)
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-5)
    for i, (a, r) in enumerate(zip(grads, ref_grads)):
        err = (a - r).abs().max().item()
        assert torch.allclose(a, r, rtol=1e-3, atol=1e-4), f"grad {i}: max abs err {err:.2e}"


def _bimamba() -> CharMambaLM:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4, bidirectional=True))


def test_bidirectional_model_sees_both_sides():
    model = _bimamba().eval()
    assert not model.is_causal
    x = torch.randint(0, 4, (1, 30))
    y = x.clone()
    y[0, 25] = (y[0, 25] + 1) % 4  # a change late in the sequence ...
    with torch.no_grad():
        a, b = model(x), model(y)
    assert not torch.allclose(a[0, :5], b[0, :5])  # ... reaches the start


def test_masked_lm_trains_a_bidirectional_model():
    model = _bimamba()
    tokens = torch.tensor([[0, 1, 2, 3] * 16] * 4)  # a periodic sequence is learnable from context
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(30):
        loss, count = masked_base_loss(model, tokens, 0.3, torch.Generator().manual_seed(step))
        assert count > 0
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    module = PretrainLitModule(model, optimizer=torch.optim.AdamW, mask_prob=0.2)
    loss, count = module._step({"tokens": tokens}, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and 0 < count < tokens.numel()


def test_likelihood_scoring_refuses_a_bidirectional_model(tiny_fa):
    with pytest.raises(GenomambaError, match="bidirectional"):
        next(score_sequence(_bimamba(), FastaReader(tiny_fa), "chr1"))
