"""genomamba_kernels.add_norm_linear_triton against `add_norm_linear_ref` (add_rms_norm_ref, then
F.linear): the output and the fp32 residual stream r, odd widths and output counts (both of the
kernel's loops run more than once and end masked), with and without the residual, the bias and the
embedding gather, fp32 and bf16; and the next base sampled from the LM head's logits in the same
launch against `sample_next` (greedy, temperature, top-k, top-p) on random logits. Under the Triton
interpreter on the CPU."""

from __future__ import annotations

import pytest
import torch

from genomamba.models.generation import Sampling
from genomamba.ops.decode import (
    NUCLEOTIDES,
    add_norm_linear,
    add_norm_linear_ref,
    sample_next,
)

pytest.importorskip("triton")
from genomamba_kernels import add_norm_linear_triton

from .helpers import assert_close


def make(B, Dm, O, dtype, device, residual, bias, gather, V=7, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, dt=dtype):
        return torch.randn(*shape, generator=g).to(dt).to(device)

    kw = {"bias": rand(O) if bias else None}
    if gather:
        x = None
        kw["embedding"] = rand(V, Dm)
        kw["tokens"] = torch.randint(0, V, (B,), generator=g).to(torch.uint8 if V < 256 else torch.long).to(device)
    else:
        x = rand(B, Dm)
    res = rand(B, Dm, dt=torch.float32) if residual else None
    norm_w = (1 + 0.1 * torch.randn(Dm, generator=g)).to(dtype).to(device)
    return (x, res, norm_w, 1e-5, rand(O, Dm) * Dm**-0.5), kw


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("residual,bias,gather", [(True, False, False), (False, True, False), (False, False, True),
                                                  (True, True, True)], ids=["res", "bias", "gather", "all"])
@pytest.mark.parametrize("B,Dm,O", [(3, 40, 21), (1, 16, 8), (2, 57, 130)])
def test_add_norm_linear_kernel_matches_reference(B, Dm, O, residual, bias, gather, dtype, device):
    args, kw = make(B, Dm, O, dtype, device, residual, bias, gather)
    out, r = add_norm_linear_triton(*args, **kw)
    out_ref, r_ref = add_norm_linear_ref(*args, **kw)
    assert out.dtype == dtype and r.dtype == torch.float32
    assert_close("out", out, out_ref, dtype)
    assert_close("r", r, r_ref, torch.float32)


def test_dispatch_picks_the_kernel_for_triton(device):
    args, kw = make(2, 24, 10, torch.float32, device, True, True, True, seed=1)
    torch.testing.assert_close(add_norm_linear(*args, **kw, backend="triton"), add_norm_linear_triton(*args, **kw))
    torch.testing.assert_close(add_norm_linear(*args, **kw, backend="torch"), add_norm_linear_ref(*args, **kw))


def test_add_norm_linear_kernel_needs_x_or_tokens(device):
    args, _ = make(2, 8, 4, torch.float32, device, False, False, False)
    with pytest.raises(ValueError, match="give x, or tokens and embedding"):
        add_norm_linear_triton(*args, tokens=torch.zeros(2, dtype=torch.long, device=device),
                               embedding=args[0])


SAMPLINGS = [Sampling(temperature=0), Sampling(), Sampling(temperature=0.7, top_k=2), Sampling(top_p=0.6),
             Sampling(temperature=1.3, top_k=3, top_p=0.8), Sampling(top_k=1)]


@pytest.mark.parametrize("sampling", SAMPLINGS, ids=str)
@pytest.mark.parametrize("O,dtype", [(8, torch.float32), (5, torch.bfloat16)], ids=["O8-f32", "O5-bf16"])
def test_fused_sampling_matches_sample_next(O, sampling, dtype, device):
    B = 64
    args, kw = make(B, 24, O, dtype, device, True, O == 5, True, seed=O)
    args = (*args[:4], args[4] * 4)  # logits of a few units: every base has a chance
    noise = torch.rand(B, generator=torch.Generator().manual_seed(2)).to(device)
    noise[:2] = torch.tensor([0.0, 1 - 2**-24])  # the ends of [0, 1)
    tokens_out = torch.full((B,), 255, dtype=torch.uint8, device=device)
    sample = (sampling.temperature, sampling.top_k, sampling.top_p)
    out, r = add_norm_linear_triton(*args, **kw, sample=sample, noise=noise, tokens_out=tokens_out)
    out_ref, r_ref = add_norm_linear_ref(*args, **kw)
    assert_close("out", out, out_ref, dtype)
    assert_close("r", r, r_ref, torch.float32)
    want = sample_next(out, noise, sampling)  # from the kernel's own logits: the sampling alone compared
    lg = out[:, :NUCLEOTIDES].float()
    untied = (lg[:, :, None] != lg[:, None, :]).sum((1, 2)) == NUCLEOTIDES * (NUCLEOTIDES - 1)  # bf16 can tie
    assert untied.sum() > B // 2
    torch.testing.assert_close(tokens_out.long()[untied], want[untied], rtol=0, atol=0)
    assert len(set(want.tolist())) > 1 or sampling.greedy or sampling.top_k == 1


def test_dispatch_samples_with_the_reference_on_torch(device):
    args, kw = make(6, 16, 8, torch.float32, device, True, False, True, seed=3)
    noise = torch.rand(6, generator=torch.Generator().manual_seed(4)).to(device)
    got, want = torch.zeros(6, dtype=torch.uint8, device=device), torch.zeros(6, dtype=torch.uint8, device=device)
    sampling = Sampling(temperature=0.8, top_p=0.9)
    out, _ = add_norm_linear(*args, **kw, sampling=sampling, noise=noise, tokens_out=got, backend="triton")
    out_ref, _ = add_norm_linear(*args, **kw, sampling=sampling, noise=noise, tokens_out=want, backend="torch")
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close(want.long(), sample_next(out_ref, noise, sampling), rtol=0, atol=0)
