"""genomamba_kernels.add_norm_linear_triton against `add_norm_linear_ref` (add_rms_norm_ref, then
F.linear): the output and the fp32 residual stream r, odd widths and output counts (both of the
kernel's loops run more than once and end masked), with and without the residual, the bias and the
embedding gather, fp32 and bf16, one row per program and in blocks of 16 or 32 rows (with a masked
tail of rows); and the next base sampled from the LM head's logits in the same launch against
`sample_next`: greedy, temperature, top-k, top-p on random logits, and greedy on logits with exact
ties among the four bases, larger outputs past them and NaN. Under the Triton interpreter on the CPU."""

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



@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("residual,bias,gather", [(True, False, False), (False, True, True), (True, True, True)],
                         ids=["res", "bias-gather", "all"])
@pytest.mark.parametrize("B,Dm,O,rows", [(19, 40, 21, None), (19, 57, 130, 16), (40, 57, 21, 32)])
def test_add_norm_linear_row_blocks_match_reference(B, Dm, O, rows, residual, bias, gather, dtype, device):
    args, kw = make(B, Dm, O, dtype, device, residual, bias, gather, seed=B + O)
    out, r = add_norm_linear_triton(*args, **kw, rows_per_program=rows)
    out_ref, r_ref = add_norm_linear_ref(*args, **kw)
    assert out.dtype == dtype and r.dtype == torch.float32
    assert_close("out", out, out_ref, dtype)
    assert_close("r", r, r_ref, torch.float32)
    if rows is None:  # 19 rows and no sampling: the 16-row blocks
        torch.testing.assert_close(out, add_norm_linear_triton(*args, **kw, rows_per_program=16)[0], rtol=0, atol=0)


def test_row_blocks_take_no_sampling(device):
    args, kw = make(16, 8, 4, torch.float32, device, False, False, False)
    noise, tokens_out = torch.zeros(16, device=device), torch.zeros(16, dtype=torch.uint8, device=device)
    for rows, sample in ((16, (0.0, 0, 1.0)), (8, None)):
        with pytest.raises(ValueError, match="rows_per_program"):
            add_norm_linear_triton(*args, **kw, sample=sample, noise=noise, tokens_out=tokens_out,
                                   rows_per_program=rows)

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


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_fused_greedy_ties_and_larger_outputs_past_the_bases(dtype, device):
    # x = +-1 (rstd 1 with eps 0) and one weight per output: out[b, :4] = +-1 by the bits of b (every pattern
    # of ties: the lowest index of a +1 wins, index 0 when all four are -1), out[b, 4:] = 2, the row's largest
    # but no base; the last row's x is NaN, so are its logits (torch.argmax: the first NaN, index 0)
    B, Dm, O = 17, 16, 12
    bits = (torch.arange(16)[:, None] >> torch.arange(NUCLEOTIDES)) & 1
    x = torch.ones(B, Dm)
    x[:16, :NUCLEOTIDES] = 2.0 * bits - 1
    x[16] = float("nan")
    w = torch.zeros(O, Dm)
    w[torch.arange(O), torch.arange(O)] = torch.tensor([1.0] * NUCLEOTIDES + [2.0] * (O - NUCLEOTIDES))
    args = (x.to(dtype).to(device), None, torch.ones(Dm, dtype=dtype, device=device), 0.0, w.to(dtype).to(device))
    noise = torch.zeros(B, device=device)
    tokens_out = torch.full((B,), 255, dtype=torch.uint8, device=device)
    out, _ = add_norm_linear_triton(*args, sample=(0.0, 0, 1.0), noise=noise, tokens_out=tokens_out)
    torch.testing.assert_close(out[:16].float().cpu(), torch.cat([2.0 * bits - 1, torch.full((16, O - 4), 2.0)], 1))
    want = [(b & -b).bit_length() - 1 if b else 0 for b in range(16)] + [0]
    assert tokens_out.tolist() == want
    assert sample_next(out, noise, Sampling(temperature=0)).tolist() == want
