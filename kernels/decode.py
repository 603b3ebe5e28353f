"""The decode step's glue between two Mamba mixers, fused into one Triton launch: residual add +
RMSNorm + the next linear layer (the next block's in_proj, or the LM head after norm_f).

Per row: r = x + residual (fp32; r = x when no residual comes in), normed = rmsnorm(r) * norm_weight
in x's dtype, out = normed @ weight.T (+ bias) with fp32 accumulation, in weight's dtype. x can be
gathered in the kernel from an embedding table by token, so the first layer's embedding, norm and
in_proj are one launch too. At decode sizes (d_model 256-2048, a few rows) the step is bound by
launch latency, not by these GEMVs: the grid is (rows, output blocks) and each program recomputes
its row's norm (a re-read of d elements, from cache) rather than waiting on another launch; the
first output block's program writes r.

With many rows (16 or more, no sampling) one program takes a block of 16 or 32 rows and one block of
outputs instead, so that each weight block is read once per row block rather than once per row: it
computes the block's rstd, then accumulates normed (rounded to x's dtype, as above) times the weight
block with `tl.dot` (fp32 products without TF32 for fp32 weights, bf16 / fp16 ones on the tensor
cores for 16-bit weights, fp32 accumulation either way).

After the LM head the next base can be drawn in the same launch (`sample`, one row per program):
from the first four logits (A, C, G, T) as stored in out (read back after a barrier, so that every
thread sees the same values), greedy (the argmax: the first NaN, else the lowest index of the
maximum) or temperature / top-k / top-p inverse-CDF sampling with one uniform per row, the semantics
of `genomamba.ops.decode.sample_next`. Its sort by probability becomes pairwise comparisons among the
four bases (each one's rank is the count of those before it, ties broken by index as a stable sort
would), and its cumulative sums become sums over the bases ranked before. One launch instead of
sampling's dozen small ones. Imports torch and triton only.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from genomamba_kernels.common import _empty

NUC = 4  # the sampled tokens: A C G T (genomamba.ops.decode.NUCLEOTIDES)


@triton.jit
def _load_r(x_row, res_row, offs, mask, HAS_RESIDUAL: tl.constexpr):
    r = tl.load(x_row + offs, mask=mask, other=0.0).to(tl.float32)
    if HAS_RESIDUAL:
        r += tl.load(res_row + offs, mask=mask, other=0.0).to(tl.float32)
    return r


@triton.jit
def _add_norm_linear_kernel(x_ptr, tok_ptr, res_ptr, nw_ptr, w_ptr, b_ptr, out_ptr, r_ptr, Dm, O, stride_x,
                            stride_res, stride_out, stride_r, eps, noise_ptr, tok_out_ptr, temperature, top_p,
                            HAS_RESIDUAL: tl.constexpr, GATHER: tl.constexpr, HAS_BIAS: tl.constexpr,
                            SAMPLE: tl.constexpr, GREEDY: tl.constexpr, TOP_K: tl.constexpr, HAS_TOP_P: tl.constexpr,
                            NUC: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_O: tl.constexpr):
    pid_b = tl.program_id(0)
    pid_o = tl.program_id(1)
    if GATHER:  # x is the embedding table, the row its token's
        row = tl.load(tok_ptr + pid_b).to(tl.int64)
    else:
        row = pid_b.to(tl.int64)
    x_row = x_ptr + row * stride_x
    res_row = res_ptr + pid_b.to(tl.int64) * stride_res
    # pass 1: the row's sum of squares
    sq = tl.zeros([BLOCK_D], tl.float32)
    for d0 in range(0, Dm, BLOCK_D):
        offs_d = d0 + tl.arange(0, BLOCK_D)
        mask_d = offs_d < Dm
        r = _load_r(x_row, res_row, offs_d, mask_d, HAS_RESIDUAL)
        sq += r * r
    rstd = 1.0 / tl.sqrt(tl.sum(sq, axis=0) / Dm + eps)
    # pass 2: normed (rounded to x's dtype, as the unfused norm writes it) times this block's rows of weight
    offs_o = pid_o * BLOCK_O + tl.arange(0, BLOCK_O)
    mask_o = offs_o < O
    acc = tl.zeros([BLOCK_O], tl.float32)
    for d0 in range(0, Dm, BLOCK_D):
        offs_d = d0 + tl.arange(0, BLOCK_D)
        mask_d = offs_d < Dm
        r = _load_r(x_row, res_row, offs_d, mask_d, HAS_RESIDUAL)
        if pid_o == 0:
            tl.store(r_ptr + pid_b.to(tl.int64) * stride_r + offs_d, r, mask=mask_d)
        nw = tl.load(nw_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
        normed = (r * rstd * nw).to(x_ptr.dtype.element_ty).to(tl.float32)
        w = tl.load(w_ptr + offs_o[:, None].to(tl.int64) * Dm + offs_d[None, :],
                    mask=mask_o[:, None] & mask_d[None, :], other=0.0)
        acc += tl.sum(w.to(tl.float32) * normed[None, :], axis=1)
    if HAS_BIAS:
        acc += tl.load(b_ptr + offs_o, mask=mask_o, other=0.0).to(tl.float32)
    out_row = out_ptr + pid_b.to(tl.int64) * stride_out
    tl.store(out_row + offs_o, acc.to(out_ptr.dtype.element_ty), mask=mask_o)
    if SAMPLE:  # the first NUC outputs are the first block's, whose program draws the token
        # from the stored logits, read back: on the GPU the threads' copies of acc can differ in the last bit
        # (fused multiply-adds in the reduction), and compared with each other they misrank the bases
        tl.debug_barrier()
        if pid_o == 0:
            lg = tl.load(out_row + tl.arange(0, NUC)).to(tl.float32)
            tok = _sample(lg, noise_ptr + pid_b, temperature, top_p, GREEDY, TOP_K, HAS_TOP_P, NUC)
            tl.store(tok_out_ptr + pid_b, tok.to(tok_out_ptr.dtype.element_ty))


@triton.jit
def _add_norm_linear_rows_kernel(x_ptr, tok_ptr, res_ptr, nw_ptr, w_ptr, b_ptr, out_ptr, r_ptr, B, Dm, O, stride_x,
                                 stride_res, stride_out, stride_r, eps, HAS_RESIDUAL: tl.constexpr,
                                 GATHER: tl.constexpr, HAS_BIAS: tl.constexpr, DOT_F32: tl.constexpr,
                                 BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_O: tl.constexpr):
    # BLOCK_B rows times one BLOCK_O block of outputs: the weight block is read once for all the rows
    pid_b = tl.program_id(0)
    pid_o = tl.program_id(1)
    offs_b = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    mask_b = offs_b < B
    if GATHER:  # x is the embedding table, the rows their tokens'
        rows = tl.load(tok_ptr + offs_b, mask=mask_b, other=0).to(tl.int64)
    else:
        rows = offs_b.to(tl.int64)
    x_rows = x_ptr + rows[:, None] * stride_x
    res_rows = res_ptr + offs_b.to(tl.int64)[:, None] * stride_res
    r_rows = r_ptr + offs_b.to(tl.int64)[:, None] * stride_r
    # pass 1: each row's sum of squares
    sq = tl.zeros([BLOCK_B, BLOCK_D], tl.float32)
    for d0 in range(0, Dm, BLOCK_D):
        offs_d = d0 + tl.arange(0, BLOCK_D)
        r = _load_r(x_rows, res_rows, offs_d[None, :], mask_b[:, None] & (offs_d < Dm)[None, :], HAS_RESIDUAL)
        sq += r * r
    rstd = 1.0 / tl.sqrt(tl.sum(sq, axis=1) / Dm + eps)
    # pass 2: normed (rounded to x's dtype) times this block's rows of weight, block by block of d
    offs_o = pid_o * BLOCK_O + tl.arange(0, BLOCK_O)
    mask_o = offs_o < O
    acc = tl.zeros([BLOCK_B, BLOCK_O], tl.float32)
    for d0 in range(0, Dm, BLOCK_D):
        offs_d = d0 + tl.arange(0, BLOCK_D)
        mask_d = offs_d < Dm
        mask = mask_b[:, None] & mask_d[None, :]
        r = _load_r(x_rows, res_rows, offs_d[None, :], mask, HAS_RESIDUAL)
        if pid_o == 0:
            tl.store(r_rows + offs_d[None, :], r, mask=mask)
        nw = tl.load(nw_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
        normed = (r * rstd[:, None] * nw[None, :]).to(x_ptr.dtype.element_ty)
        w = tl.load(w_ptr + offs_o[:, None].to(tl.int64) * Dm + offs_d[None, :],
                    mask=mask_o[:, None] & mask_d[None, :], other=0.0)
        if DOT_F32:  # exact fp32 products, as the one-row path's
            acc = tl.dot(normed.to(tl.float32), tl.trans(w.to(tl.float32)), acc, input_precision="ieee")
        else:  # 16-bit normed and weight of one dtype: exact products, fp32 sums
            acc = tl.dot(normed, tl.trans(w), acc)
    if HAS_BIAS:
        acc += tl.load(b_ptr + offs_o, mask=mask_o, other=0.0).to(tl.float32)[None, :]
    tl.store(out_ptr + offs_b.to(tl.int64)[:, None] * stride_out + offs_o[None, :], acc.to(out_ptr.dtype.element_ty),
             mask=mask_b[:, None] & mask_o[None, :])


@triton.jit
def _sample(lg, u_ptr, temperature, top_p, GREEDY: tl.constexpr, TOP_K: tl.constexpr, HAS_TOP_P: tl.constexpr,
            NUC: tl.constexpr):
    # the token drawn from the NUC logits lg (`sample_next`)
    offs = tl.arange(0, NUC)
    if GREEDY:  # torch.argmax: the first NaN if any, else the first of the maximum
        num = lg == lg  # noqa: PLR0124 (False at NaN)
        first_nan = tl.min(tl.where(num, NUC, offs), axis=0)
        first_top = tl.min(tl.where(lg == tl.max(tl.where(num, lg, float("-inf")), axis=0), offs, NUC), axis=0)
        return tl.where(first_nan < NUC, first_nan, first_top)
    lg = lg / temperature
    p = tl.exp(lg - tl.max(lg, axis=0))
    ii, jj = offs[:, None], offs[None, :]  # i indexes dim 0, j dim 1 of the pairwise tables
    before = (p[None, :] > p[:, None]) | ((p[None, :] == p[:, None]) & (jj < ii))  # j ranks before i
    rank = tl.sum(before.to(tl.int32), axis=1)
    keep = rank < (TOP_K if TOP_K > 0 else NUC)
    if HAS_TOP_P:  # of the top-k mass, that before a base is below p (the first is always kept)
        pk = tl.where(keep, p, 0.0)
        keep = keep & (tl.sum(tl.where(before, pk[None, :], 0.0), axis=1) < top_p * tl.sum(pk, axis=0))
    pk = tl.where(keep, p, 0.0)
    cdf = tl.sum(tl.where(before | (jj == ii), pk[None, :], 0.0), axis=1)  # at each base's sorted position
    u = tl.load(u_ptr)
    pick = tl.sum((cdf <= u * tl.sum(pk, axis=0)).to(tl.int32), axis=0)
    pick = tl.minimum(pick, tl.sum(keep.to(tl.int32), axis=0) - 1)  # never past the last kept base
    return tl.min(tl.where(rank == pick, offs, NUC - 1), axis=0)  # a base even where NaN logits break the ranks


def add_norm_linear_triton(
    x: torch.Tensor | None,
    residual: torch.Tensor | None,
    norm_weight: torch.Tensor,
    eps: float,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    tokens: torch.Tensor | None = None,
    embedding: torch.Tensor | None = None,
    sample: tuple[float, int, float] | None = None,
    noise: torch.Tensor | None = None,
    tokens_out: torch.Tensor | None = None,
    rows_per_program: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual add + RMSNorm + linear for one position per row; see `genomamba.ops.decode.add_norm_linear_ref`.

    Args:
        x: `[B, d]` (unit last stride), or None with `tokens` `[B]` (any integer dtype) and
            `embedding` `[V, d]`: x = embedding[tokens], gathered in the kernel.
        residual: `[B, d]` (fp32, the residual stream) or None. norm_weight: `[d]`.
        weight: `[O, d]`; bias: `[O]` or None.
        sample: (temperature, top_k, top_p) (temperature 0: greedy) to draw the next base from
            out[:, :4] with the uniforms `noise` `[B]` fp32 into `tokens_out` `[B]` (any integer
            dtype); see `genomamba.ops.decode.add_norm_linear_ref`.
        rows_per_program: 1 (one row per program), or 16 or 32 (the block of rows path, not with
            `sample`); None picks: blocks of rows from 16 rows up without `sample`, else 1.

    Returns:
        (out `[B, O]` in weight's dtype, r `[B, d]` fp32).
    """
    gather = tokens is not None
    src = embedding if gather else x
    if gather == (x is not None) or (gather and embedding is None):
        raise ValueError("add_norm_linear_triton: give x, or tokens and embedding")
    Bsz = tokens.shape[0] if gather else x.shape[0]
    Dm, O = src.shape[1], weight.shape[0]
    if src.stride(-1) != 1 or (residual is not None and residual.stride(-1) != 1):
        raise ValueError("add_norm_linear_triton: x (or embedding) and residual need a unit last stride")
    weight, norm_weight = weight.contiguous(), norm_weight.contiguous()
    tokens = tokens.contiguous() if gather else None
    if sample is not None and (O < NUC or noise is None or tokens_out is None or noise.dtype != torch.float32
                               or noise.stride(0) != 1 or tokens_out.stride(0) != 1):
        raise ValueError(f"add_norm_linear_triton: sampling needs >= {NUC} outputs, fp32 noise and tokens_out "
                         "`[B]` with unit stride")
    if rows_per_program is None:
        rows_per_program = 1 if sample is not None or Bsz < 16 else 16 if Bsz < 128 else 32
    if rows_per_program not in (1, 16, 32) or (rows_per_program > 1 and sample is not None):
        raise ValueError(f"add_norm_linear_triton: rows_per_program {rows_per_program}: 1, or 16 or 32 without "
                         "sampling")
    out = _empty(Bsz, O, dtype=weight.dtype, device=src.device)
    r = _empty(Bsz, Dm, dtype=torch.float32, device=src.device)
    if Bsz == 0:
        return out, r
    on_gpu = src.device.type == "cuda"  # else the interpreter: small tiles, so the loops run more than once in tests
    common = (src, tokens if gather else src, residual if residual is not None else r, norm_weight, weight,
              bias if bias is not None else weight, out, r)
    flags = {"HAS_RESIDUAL": residual is not None, "GATHER": gather, "HAS_BIAS": bias is not None}
    if rows_per_program > 1:  # tl.dot takes no dimension under 16
        block_d = min(64 if on_gpu else 16, max(16, triton.next_power_of_2(Dm)))
        block_o = min(64 if on_gpu else 16, max(16, triton.next_power_of_2(O)))
        # 16-bit operands on the GPU only: the interpreter's tl.dot multiplies bf16's raw bits
        dot_f32 = not (on_gpu and src.dtype == weight.dtype and weight.dtype in (torch.bfloat16, torch.float16))
        _add_norm_linear_rows_kernel[(triton.cdiv(Bsz, rows_per_program), triton.cdiv(O, block_o))](
            *common, Bsz, Dm, O, src.stride(0), residual.stride(0) if residual is not None else 0, out.stride(0),
            r.stride(0), eps, **flags, DOT_F32=dot_f32, BLOCK_B=rows_per_program, BLOCK_D=block_d,
            BLOCK_O=block_o, num_warps=4 if on_gpu else 1,
        )
        return out, r
    if on_gpu:
        block_d = min(256, triton.next_power_of_2(Dm))
        block_o, num_warps = min(32, triton.next_power_of_2(O)), 4
    else:
        block_d, block_o, num_warps = min(16, triton.next_power_of_2(Dm)), min(8, triton.next_power_of_2(O)), 1
    block_o = max(block_o, NUC)  # the sampled bases in the first block
    temperature, top_k, top_p = sample if sample is not None else (1.0, 0, 1.0)
    _add_norm_linear_kernel[(Bsz, triton.cdiv(O, block_o))](
        *common, Dm, O, src.stride(0), residual.stride(0) if residual is not None else 0, out.stride(0),
        r.stride(0), eps, noise if sample is not None else r, tokens_out if sample is not None else r,
        float(temperature) or 1.0, float(top_p), **flags, SAMPLE=sample is not None, GREEDY=temperature == 0,
        TOP_K=int(top_k), HAS_TOP_P=top_p < 1, NUC=NUC, BLOCK_D=block_d, BLOCK_O=block_o, num_warps=num_warps,
    )
    return out, r
