"""Fused bidirectional selective scan (Caduceus-style BiMamba, Schiff et al. 2024, arXiv:2403.03234).

y = scan(u; forward params) + scan_right_to_left(u; backward params), gated once by silu(z).
The two directions share u, z and seq_idx and are computed by one program per (d-block, chunk,
batch): a left-to-right sweep writes its part of y, then a right-to-left sweep adds its part. No
tensor is flipped or copied (Caduceus and mamba-ssm flip u, delta, B, C, z and y). The backward
does the same with the adjoint sweeps, adding the two directions' du and dz in place. The chunk
passes (`_selective_scan_chunk_state_kernel`, `_chunk_combine_kernel`) are shared with
`selective_scan.py` and run once per direction. Imports torch and triton only.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from genomamba_kernels.selective_scan import (
    _bwd_adjoint_in,
    _bwd_sweep,
    _chunk_start_states,
    _empty,
    _fwd_sweep,
    _load_params,
    _Plan,
    _scratch,
    _prep,
)


@triton.jit
def _bidirectional_scan_fwd_kernel(
    u_ptr, z_ptr, seq_ptr, y_ptr,
    dlf_ptr, Af_ptr, Bf_ptr, Cf_ptr, Df_ptr, biasf_ptr, hsf_ptr,
    dlb_ptr, Ab_ptr, Bb_ptr, Cb_ptr, Db_ptr, biasb_ptr, hsb_ptr,
    L, D, N, dpg, chunk_len, n_chunks, stride_ub, stride_ud, stride_bb, stride_bg, stride_bn,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    IS_VARLEN: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):
    pid_d, pid_c, pid_b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    offs_l = tl.arange(0, BLOCK_L)
    mask_d, mask_n = offs_d < D, offs_n < N
    mdn = mask_n[:, None] & mask_d[None, :]
    grp = (pid_d * BLOCK_D) // dpg
    c_start = pid_c * chunk_len
    n_tiles = tl.cdiv(tl.minimum(c_start + chunk_len, L) - c_start, BLOCK_L)
    pdn = offs_n[:, None] + offs_d[None, :] * N
    cs = ((pid_b * n_chunks + pid_c) * D) * N
    ub = pid_b * stride_ub
    bb = pid_b * stride_bb + grp * stride_bg
    # left to right
    Af, A2, Dv, bias = _load_params(Af_ptr, Df_ptr, biasf_ptr, offs_d, mask_d, offs_n, mask_n, N, HAS_D, HAS_BIAS)
    h = tl.load(hsf_ptr + cs + pdn, mask=mdn, other=0.0)
    _fwd_sweep(h, u_ptr + ub, dlf_ptr + ub, z_ptr + ub, y_ptr + ub, u_ptr, Bf_ptr + bb, Cf_ptr + bb,
               seq_ptr + pid_b * L, u_ptr, A2, Dv, bias, offs_d, mask_d, offs_n, mask_n, offs_l, c_start, n_tiles,
               L, stride_ud, stride_bn, D * N, N,
               HAS_D, HAS_Z, HAS_BIAS, SOFTPLUS, IS_VARLEN, False, True, False, False, False,
               BLOCK_D, BLOCK_N, BLOCK_L, 1)
    tl.debug_barrier()  # the right-to-left sweep reads y written by other threads of this program
    # right to left, adding into y
    Af, A2, Dv, bias = _load_params(Ab_ptr, Db_ptr, biasb_ptr, offs_d, mask_d, offs_n, mask_n, N, HAS_D, HAS_BIAS)
    h = tl.load(hsb_ptr + cs + pdn, mask=mdn, other=0.0)
    _fwd_sweep(h, u_ptr + ub, dlb_ptr + ub, z_ptr + ub, y_ptr + ub, u_ptr, Bb_ptr + bb, Cb_ptr + bb,
               seq_ptr + pid_b * L, u_ptr, A2, Dv, bias, offs_d, mask_d, offs_n, mask_n, offs_l, c_start, n_tiles,
               L, stride_ud, stride_bn, D * N, N,
               HAS_D, HAS_Z, HAS_BIAS, SOFTPLUS, IS_VARLEN, True, True, True, False, False,
               BLOCK_D, BLOCK_N, BLOCK_L, 1)


@triton.jit
def _bidirectional_scan_bwd_kernel(
    u_ptr, z_ptr, seq_ptr, dout_ptr, du_ptr, dz_ptr,
    dlf_ptr, Af_ptr, Bf_ptr, Cf_ptr, Df_ptr, biasf_ptr, ckf_ptr, scf_ptr, Ef_ptr,
    ddlf_ptr, dAf_ptr, dBf_ptr, dCf_ptr, dDf_ptr, dbiasf_ptr,
    dlb_ptr, Ab_ptr, Bb_ptr, Cb_ptr, Db_ptr, biasb_ptr, ckb_ptr, scb_ptr, Eb_ptr,
    ddlb_ptr, dAb_ptr, dBb_ptr, dCb_ptr, dDb_ptr, dbiasb_ptr,
    L, D, N, dpg, chunk_len, n_chunks, n_ck, stride_ub, stride_ud, stride_bb, stride_bg, stride_bn,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    IS_VARLEN: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
    CKPT_TILES: tl.constexpr,
):
    pid_d, pid_c, pid_b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    offs_l = tl.arange(0, BLOCK_L)
    mask_d, mask_n = offs_d < D, offs_n < N
    mdn = mask_n[:, None] & mask_d[None, :]
    grp = (pid_d * BLOCK_D) // dpg
    c_start = pid_c * chunk_len
    n_tiles = tl.cdiv(tl.minimum(c_start + chunk_len, L) - c_start, BLOCK_L)
    pdn = offs_n[:, None] + offs_d[None, :] * N
    cs = ((pid_b * n_chunks + pid_c) * D) * N
    ub = pid_b * stride_ub
    bb = pid_b * stride_bb + grp * stride_bg
    ck = pid_b * n_ck * D * N
    sc = ((pid_b * n_chunks + pid_c) * tl.num_programs(0) + pid_d) * (CKPT_TILES * BLOCK_N * BLOCK_D)
    # adjoint of the left-to-right scan
    Af, A2, Dv, bias = _load_params(Af_ptr, Df_ptr, biasf_ptr, offs_d, mask_d, offs_n, mask_n, N, HAS_D, HAS_BIAS)
    E = tl.load(Ef_ptr + cs + pdn, mask=mdn, other=0.0)
    E, dA_acc, dD_acc, db_acc = _bwd_sweep(
        E, u_ptr + ub, dlf_ptr + ub, z_ptr + ub, dout_ptr + ub, du_ptr + ub, ddlf_ptr + ub, dz_ptr + ub,
        Bf_ptr + bb, Cf_ptr + bb, dBf_ptr + bb, dCf_ptr + bb, seq_ptr + pid_b * L, ckf_ptr + ck, scf_ptr + sc,
        A2, Af, Dv, bias, offs_d, mask_d, offs_n, mask_n, offs_l, c_start, n_tiles, L, stride_ud, stride_bn, D * N, N,
        HAS_D, HAS_Z, HAS_BIAS, SOFTPLUS, IS_VARLEN, False, False, BLOCK_D, BLOCK_N, BLOCK_L, CKPT_TILES)
    tl.atomic_add(dAf_ptr + pdn, dA_acc, mask=mdn)
    if HAS_D:
        tl.atomic_add(dDf_ptr + offs_d, dD_acc, mask=mask_d)
    if HAS_BIAS:
        tl.atomic_add(dbiasf_ptr + offs_d, db_acc, mask=mask_d)
    tl.debug_barrier()  # the second sweep adds into du and dz written by other threads
    # adjoint of the right-to-left scan
    Af, A2, Dv, bias = _load_params(Ab_ptr, Db_ptr, biasb_ptr, offs_d, mask_d, offs_n, mask_n, N, HAS_D, HAS_BIAS)
    E = tl.load(Eb_ptr + cs + pdn, mask=mdn, other=0.0)
    E, dA_acc, dD_acc, db_acc = _bwd_sweep(
        E, u_ptr + ub, dlb_ptr + ub, z_ptr + ub, dout_ptr + ub, du_ptr + ub, ddlb_ptr + ub, dz_ptr + ub,
        Bb_ptr + bb, Cb_ptr + bb, dBb_ptr + bb, dCb_ptr + bb, seq_ptr + pid_b * L, ckb_ptr + ck, scb_ptr + sc,
        A2, Af, Dv, bias, offs_d, mask_d, offs_n, mask_n, offs_l, c_start, n_tiles, L, stride_ud, stride_bn, D * N, N,
        HAS_D, HAS_Z, HAS_BIAS, SOFTPLUS, IS_VARLEN, True, True, BLOCK_D, BLOCK_N, BLOCK_L, CKPT_TILES)
    tl.atomic_add(dAb_ptr + pdn, dA_acc, mask=mdn)
    if HAS_D:
        tl.atomic_add(dDb_ptr + offs_d, dD_acc, mask=mask_d)
    if HAS_BIAS:
        tl.atomic_add(dbiasb_ptr + offs_d, db_acc, mask=mask_d)


def _check_pair(name, f, b):
    if (f is None) != (b is None):
        raise ValueError(f"{name}_f and {name}_b must both be given or both be None")


def _bidirectional_scan_fwd(u, z, seq, f, b, softplus, plan: _Plan):
    """f, b: per-direction (delta, A, B4, C4, D, bias) already prepared. Returns y and the two
    directions' chunk-start states."""
    Bsz, Dm, L = u.shape
    N = f[1].shape[1]
    hs_f = _chunk_start_states(u, f[0], f[1], f[2], f[5], seq, None, plan, softplus, False)
    hs_b = _chunk_start_states(u, b[0], b[1], b[2], b[5], seq, None, plan, softplus, True)
    y = _empty(Bsz, Dm, L, dtype=u.dtype, device=u.device)
    dummy = u
    opt = lambda x: x if x is not None else dummy  # noqa: E731
    B4 = f[2]
    _bidirectional_scan_fwd_kernel[(plan.f.n_dblk, plan.n_chunks, Bsz)](
        u, opt(z), opt(seq), y,
        f[0], f[1], f[2], f[3], opt(f[4]), opt(f[5]), hs_f,
        b[0], b[1], b[2], b[3], opt(b[4]), opt(b[5]), hs_b,
        L, Dm, N, plan.f.dpg, plan.chunk_len, plan.n_chunks, u.stride(0), u.stride(1),
        B4.stride(0), B4.stride(1), B4.stride(2),
        HAS_D=f[4] is not None, HAS_Z=z is not None, HAS_BIAS=f[5] is not None, SOFTPLUS=softplus,
        IS_VARLEN=seq is not None, BLOCK_D=plan.f.BLOCK_D, BLOCK_N=plan.f.BLOCK_N, BLOCK_L=plan.f.BLOCK_L,
        num_warps=plan.f.num_warps)
    return y, hs_f, hs_b


def _bidirectional_scan_bwd(u, z, seq, f, b, hs_f, hs_b, dout, softplus, plan: _Plan):
    """Returns du, dz and per direction (ddelta, dA, dB4, dC4, dD, dbias) (the last five fp32)."""
    Bsz, Dm, L = u.shape
    N = f[1].shape[1]
    dout = dout.contiguous()
    ck_f, E_f = _bwd_adjoint_in(u, f[0], f[1], f[2], f[3], z, f[5], seq, hs_f, dout, None, softplus, False, plan)
    ck_b, E_b = _bwd_adjoint_in(u, b[0], b[1], b[2], b[3], z, b[5], seq, hs_b, dout, None, softplus, True, plan)
    du = _empty(Bsz, Dm, L, dtype=u.dtype, device=u.device)
    dz = _empty(Bsz, Dm, L, dtype=z.dtype, device=u.device) if z is not None else None
    dummy = u

    def grads(p):
        delta, A, B4, C4, D, bias = p
        f32 = dict(dtype=torch.float32, device=u.device)
        return (_empty(Bsz, Dm, L, dtype=delta.dtype, device=u.device), torch.zeros(Dm, N, **f32),
                torch.zeros(B4.shape, **f32), torch.zeros(C4.shape, **f32),
                torch.zeros(Dm, **f32) if D is not None else None,
                torch.zeros(Dm, **f32) if bias is not None else None)

    gf, gb = grads(f), grads(b)
    opt = lambda x: x if x is not None else dummy  # noqa: E731
    B4 = f[2]
    _bidirectional_scan_bwd_kernel[(plan.b.n_dblk, plan.n_chunks_b, Bsz)](
        u, opt(z), opt(seq), dout, du, opt(dz),
        f[0], f[1], f[2], f[3], opt(f[4]), opt(f[5]), ck_f, _scratch(u, plan), E_f, *[opt(x) for x in gf],
        b[0], b[1], b[2], b[3], opt(b[4]), opt(b[5]), ck_b, _scratch(u, plan), E_b, *[opt(x) for x in gb],
        L, Dm, N, plan.b.dpg, plan.chunk_len_b, plan.n_chunks_b, plan.b.n_ck, u.stride(0), u.stride(1),
        B4.stride(0), B4.stride(1), B4.stride(2),
        HAS_D=f[4] is not None, HAS_Z=z is not None, HAS_BIAS=f[5] is not None, SOFTPLUS=softplus,
        IS_VARLEN=seq is not None, BLOCK_D=plan.b.BLOCK_D, BLOCK_N=plan.b.BLOCK_N, BLOCK_L=plan.b.BLOCK_L,
        CKPT_TILES=plan.b.CKPT_TILES,
        num_warps=plan.b.num_warps)
    return du, dz, gf, gb


class BidirectionalScanFn(torch.autograd.Function):
    """Autograd for the fused bidirectional scan."""

    @staticmethod
    def forward(ctx, u, delta_f, A_f, B_f, C_f, D_f, delta_bias_f, delta_b, A_b, B_b, C_b, D_b, delta_bias_b, z,
                delta_softplus, seq_idx, chunk_size):
        u_, dl_f, A_f_, B4f, C4f, D_f_, z_, bias_f, _, seq = _prep(u, delta_f, A_f, B_f, C_f, D_f, z, delta_bias_f,
                                                                   None, seq_idx)
        _, dl_b, A_b_, B4b, C4b, D_b_, _, bias_b, _, _ = _prep(u, delta_b, A_b, B_b, C_b, D_b, None, delta_bias_b,
                                                             None, None)
        if B4f.shape != B4b.shape or A_f.shape != A_b.shape:
            raise ValueError("both directions need the same A, B and C shapes")
        f = (dl_f, A_f_, B4f, C4f, D_f_, bias_f)
        b = (dl_b, A_b_, B4b, C4b, D_b_, bias_b)
        Bsz, Dm, L = u.shape
        plan = _Plan(Bsz, Dm, A_f.shape[1], L, B4f.shape[1], u.device, chunk_size)
        y, hs_f, hs_b = _bidirectional_scan_fwd(u_, z_, seq, f, b, delta_softplus, plan)
        ctx.save_for_backward(u_, z_, seq, hs_f, hs_b, *f, *b)
        ctx.plan, ctx.softplus = plan, delta_softplus
        ctx.meta = [(x.dim(), x.dtype) if x is not None else None
                    for x in (B_f, C_f, A_f, D_f, delta_bias_f, B_b, C_b, A_b, D_b, delta_bias_b)]
        return y

    @staticmethod
    def backward(ctx, dy):
        u, z, seq, hs_f, hs_b, *rest = ctx.saved_tensors
        f, b = tuple(rest[:6]), tuple(rest[6:])
        du, dz, gf, gb = _bidirectional_scan_bwd(u, z, seq, f, b, hs_f, hs_b, dy, ctx.softplus, ctx.plan)
        m = ctx.meta

        def cast(g, meta_bc_a_d_bias):
            mB, mC, mA, mD, mbias = meta_bc_a_d_bias
            ddl, dA, dB, dC, dD, dbias = g
            dB = (dB.squeeze(1) if mB[0] == 3 else dB).to(mB[1])
            dC = (dC.squeeze(1) if mC[0] == 3 else dC).to(mC[1])
            return (ddl, dA.to(mA[1]), dB, dC, None if dD is None else dD.to(mD[1]),
                    None if dbias is None else dbias.to(mbias[1]))

        ddl_f, dA_f, dB_f, dC_f, dD_f, dbias_f = cast(gf, m[:5])
        ddl_b, dA_b, dB_b, dC_b, dD_b, dbias_b = cast(gb, m[5:])
        return (du, ddl_f, dA_f, dB_f, dC_f, dD_f, dbias_f, ddl_b, dA_b, dB_b, dC_b, dD_b, dbias_b, dz,
                None, None, None)


def bidirectional_selective_scan_triton(
    u: torch.Tensor,
    delta_f: torch.Tensor,
    A_f: torch.Tensor,
    B_f: torch.Tensor,
    C_f: torch.Tensor,
    D_f: torch.Tensor | None,
    delta_bias_f: torch.Tensor | None,
    delta_b: torch.Tensor,
    A_b: torch.Tensor,
    B_b: torch.Tensor,
    C_b: torch.Tensor,
    D_b: torch.Tensor | None,
    delta_bias_b: torch.Tensor | None,
    z: torch.Tensor | None = None,
    delta_softplus: bool = True,
    seq_idx: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Both directions of a bidirectional Mamba layer over the same input, fused, without flips.

    Equals `selective_scan_ref(u, delta_f, A_f, B_f, C_f, D_f, z, delta_bias_f, delta_softplus,
    seq_idx=seq_idx) + selective_scan_ref(u, delta_b, A_b, B_b, C_b, D_b, z, delta_bias_b,
    delta_softplus, reverse=True, seq_idx=seq_idx)`, i.e. (y_f + y_b) * silu(z) with each y
    including its own D skip term.

    Args:
        u: `[B, D, L]` shared input. z: `[B, D, L]` shared gate or None.
        delta_f, delta_b: `[B, D, L]`. A_f, A_b: `[D, N]`.
        B_f, C_f, B_b, C_b: `[B, N, L]` or grouped `[B, G, N, L]` (same shape in both directions).
        D_f, D_b, delta_bias_f, delta_bias_b: `[D]`; each pair both given or both None.
        delta_softplus: softplus on delta + delta_bias in both directions.
        seq_idx: `[B, L]` int, packed sequences; both directions reset at sequence boundaries.
        chunk_size: as in `selective_scan_triton`.

    Returns:
        y `[B, D, L]` in u's dtype. No initial or final state (a bidirectional layer has neither).
    """
    _check_pair("D", D_f, D_b)
    _check_pair("delta_bias", delta_bias_f, delta_bias_b)
    return BidirectionalScanFn.apply(u, delta_f, A_f, B_f, C_f, D_f, delta_bias_f, delta_b, A_b, B_b, C_b, D_b,
                                     delta_bias_b, z, delta_softplus, seq_idx, chunk_size)


__all__ = ["BidirectionalScanFn", "bidirectional_selective_scan_triton"]
