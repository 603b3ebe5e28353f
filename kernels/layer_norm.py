"""Fused residual add + RMSNorm with an fp32 residual stream, in Triton (mamba-ssm's
`ops/triton/layer_norm.py` `layer_norm_fn(..., residual, prenorm=True, residual_in_fp32=True,
is_rms_norm=True)`, reduced to what a Mamba block stack uses).

Forward, per row of `[M, N]`: r = x + residual (fp32; residual = x when none comes in),
y = r * rsqrt(mean(r^2) + eps) * weight in x's dtype; r and the per-row rstd are written for the
next block and the backward. Backward, per row: dr = (w dy - xhat mean(xhat w dy)) rstd + dr_out,
written once as dx (x's dtype) and, where the dtypes differ, as the residual's gradient (fp32);
dweight = sum over rows of dy * xhat, as per-program partial sums in registers added up by torch.
One read and one write of each tensor: the add, the norm and their casts never touch memory twice.
Imports torch and triton only.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from genomamba_kernels.common import _empty, _num_sms

MAX_N = 16384  # widest row a program holds in registers


@triton.jit
def _add_rms_norm_fwd_kernel(x_ptr, res_ptr, w_ptr, y_ptr, res_out_ptr, rstd_ptr, M, N, stride_x, stride_res,
                             stride_y, stride_ro, eps, HAS_RESIDUAL: tl.constexpr, STORE_RESIDUAL: tl.constexpr,
                             BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    rows = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    cols = tl.arange(0, BLOCK_N)
    mask_m, mask_n = rows < M, cols < N
    mask = mask_m[:, None] & mask_n[None, :]
    r = tl.load(x_ptr + rows[:, None] * stride_x + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    if HAS_RESIDUAL:
        r += tl.load(res_ptr + rows[:, None] * stride_res + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    if STORE_RESIDUAL:
        tl.store(res_out_ptr + rows[:, None] * stride_ro + cols[None, :], r, mask=mask)
    rstd = 1.0 / tl.sqrt(tl.sum(r * r, axis=1) / N + eps)
    tl.store(rstd_ptr + rows, rstd, mask=mask_m)
    w = tl.load(w_ptr + cols, mask=mask_n, other=0.0).to(tl.float32)
    y = r * rstd[:, None] * w[None, :]
    tl.store(y_ptr + rows[:, None] * stride_y + cols[None, :], y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _add_rms_norm_bwd_kernel(r_ptr, w_ptr, rstd_ptr, dy_ptr, dro_ptr, dx_ptr, dres_ptr, dw_ptr, M, N, stride_r,
                             stride_dy, stride_dro, stride_dx, stride_dres, tiles_per_prog,
                             HAS_DRES_OUT: tl.constexpr, STORE_DRES: tl.constexpr, BLOCK_M: tl.constexpr,
                             BLOCK_N: tl.constexpr):
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    mask_n = cols < N
    w = tl.load(w_ptr + cols, mask=mask_n, other=0.0).to(tl.float32)
    dw = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)  # summed over rows once, after the loop: no barrier a tile
    for i in range(tiles_per_prog):
        rows = ((pid * tiles_per_prog + i) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
        mask_m = rows < M
        mask = mask_m[:, None] & mask_n[None, :]
        r = tl.load(r_ptr + rows[:, None] * stride_r + cols[None, :], mask=mask, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + rows[:, None] * stride_dy + cols[None, :], mask=mask, other=0.0).to(tl.float32)
        rstd = tl.load(rstd_ptr + rows, mask=mask_m, other=0.0)
        xhat = r * rstd[:, None]
        wdy = w[None, :] * dy
        dw += dy * xhat
        c = tl.sum(xhat * wdy, axis=1) / N
        dr = (wdy - xhat * c[:, None]) * rstd[:, None]
        if HAS_DRES_OUT:
            dr += tl.load(dro_ptr + rows[:, None] * stride_dro + cols[None, :], mask=mask, other=0.0).to(tl.float32)
        tl.store(dx_ptr + rows[:, None] * stride_dx + cols[None, :], dr.to(dx_ptr.dtype.element_ty), mask=mask)
        if STORE_DRES:
            tl.store(dres_ptr + rows[:, None] * stride_dres + cols[None, :], dr.to(dres_ptr.dtype.element_ty),
                     mask=mask)
    tl.store(dw_ptr + pid * N + cols, tl.sum(dw, axis=0), mask=mask_n)


def _tiles(N: int, elems: int, per_thread: int, device: torch.device) -> tuple[int, int, int]:
    """(BLOCK_M, BLOCK_N, num_warps) for tiles of ~`elems` elements (whole rows), ~`per_thread` of
    them a thread: few registers (no spills on sm_90 at d_model 256: 73 forward, 56 backward), many
    programs resident per SM for a kernel bound by memory."""
    if N > MAX_N:
        raise ValueError(f"add_rms_norm_triton: rows of {N} > {MAX_N} elements are not supported")
    bn = triton.next_power_of_2(N)
    if device.type != "cuda":
        return min(4, max(1, elems // bn)), bn, 1  # the interpreter: small tiles
    bm = max(1, elems // bn)
    return bm, bn, min(16, max(1, bm * bn // (32 * per_thread)))


def _rows(t: torch.Tensor) -> torch.Tensor:
    """`[..., N]` -> `[M, N]` with a unit column stride (a view where the layout allows)."""
    t = t.reshape(-1, t.shape[-1])
    return t if t.stride(-1) == 1 else t.contiguous()


def _add_rms_norm_fwd(x, residual, weight, eps, store_residual, out_dtype=None):
    """(y `[M, N]` in out_dtype (default x's), r `[M, N]` fp32 or None, rstd `[M]`); x, residual: `[M, N]`."""
    M, N = x.shape
    y = _empty(M, N, dtype=out_dtype or x.dtype, device=x.device)
    r = _empty(M, N, dtype=torch.float32, device=x.device) if store_residual else None
    rstd = _empty(M, dtype=torch.float32, device=x.device)
    BM, BN, nw = _tiles(N, 4096, 16, x.device)
    if M == 0:
        return y, r, rstd
    _add_rms_norm_fwd_kernel[(triton.cdiv(M, BM),)](
        x, residual if residual is not None else x, weight, y, r if r is not None else y, rstd, M, N, x.stride(0),
        residual.stride(0) if residual is not None else 0, y.stride(0), r.stride(0) if r is not None else 0, eps,
        HAS_RESIDUAL=residual is not None, STORE_RESIDUAL=r is not None, BLOCK_M=BM, BLOCK_N=BN, num_warps=nw)
    return y, r, rstd


def _add_rms_norm_fwd_rows(x, residual, weight, eps, keep_r):
    """`_add_rms_norm_fwd` on `[..., N]` x and residual: (y `[M, N]`, r `[M, N]` fp32, rstd). r is
    written when `keep_r`; an fp32 x with no residual is r itself (x's rows, never copied)."""
    x2 = _rows(x)
    alias = residual is None and x.dtype == torch.float32
    res2 = None if residual is None else _rows(residual)
    y, r, rstd = _add_rms_norm_fwd(x2, res2, weight, eps, keep_r and not alias)
    return y, (x2 if alias else r), rstd


def _add_rms_norm_bwd(r, weight, rstd, dy, dres_out, x_dtype, res_dtype):
    """(dx in x_dtype, dresidual in res_dtype or None (no residual came in), dweight fp32 `[N]`)."""
    M, N = r.shape
    dx = _empty(M, N, dtype=x_dtype, device=r.device)
    store_dres = res_dtype is not None and res_dtype != x_dtype
    dres = _empty(M, N, dtype=res_dtype, device=r.device) if store_dres else None
    BM, BN, nw = _tiles(N, 1024, 8, r.device)  # six tiles live at once: smaller ones than forward
    n_tiles = triton.cdiv(M, BM)
    per = max(1, triton.cdiv(n_tiles, max(1, min(n_tiles, 16 * _num_sms(r.device)))))
    grid = max(1, triton.cdiv(n_tiles, per))  # one program per `per` tiles; its dw partial is one row
    dw = _empty(grid, N, dtype=torch.float32, device=r.device)
    _add_rms_norm_bwd_kernel[(grid,)](
        r, weight, rstd, dy, dres_out if dres_out is not None else dy, dx, dres if dres is not None else dx, dw, M, N,
        r.stride(0), dy.stride(0), dres_out.stride(0) if dres_out is not None else 0, dx.stride(0),
        dres.stride(0) if dres is not None else 0, per, HAS_DRES_OUT=dres_out is not None, STORE_DRES=store_dres,
        BLOCK_M=BM, BLOCK_N=BN, num_warps=nw)
    if res_dtype is not None and not store_dres:
        dres = dx  # same dtype: one tensor serves both gradients
    return dx, dres, dw.sum(0)


class AddRMSNormFn(torch.autograd.Function):
    """Autograd of `add_rms_norm_triton`: saves the fp32 sum r and rstd only."""

    @staticmethod
    def forward(ctx, x, residual, weight, eps, prenorm):
        shape = x.shape
        needs_grad = any(ctx.needs_input_grad[:3])
        w = weight.contiguous()
        # r is written when it is returned or needed by the backward
        y, r, rstd = _add_rms_norm_fwd_rows(x, residual, w, eps, prenorm or needs_grad)
        if needs_grad:
            ctx.save_for_backward(r, w, rstd)
            ctx.meta = (shape, x.dtype, None if residual is None else residual.dtype, weight.dtype)
        ctx.set_materialize_grads(False)
        y = y.view(shape)
        return (y, r.view(shape)) if prenorm else y

    @staticmethod
    def backward(ctx, dy, dres_out=None):
        r, w, rstd = ctx.saved_tensors
        shape, x_dtype, res_dtype, w_dtype = ctx.meta
        dy = torch.zeros(shape, dtype=x_dtype, device=r.device) if dy is None else dy
        dro = None if dres_out is None else _rows(dres_out)
        dx, dres, dw = _add_rms_norm_bwd(r, w, rstd, _rows(dy), dro, x_dtype, res_dtype)
        return dx.view(shape), None if dres is None else dres.view(shape), dw.to(w_dtype), None, None


def add_rms_norm_triton(
    x: torch.Tensor,
    residual: torch.Tensor | None,
    weight: torch.Tensor,
    eps: float = 1e-5,
    prenorm: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """RMSNorm of r = x + residual over the last dim, the sum kept in fp32.

    Args:
        x: `[..., N]` (a block's output; any float dtype). residual: same shape (the running fp32
            residual stream) or None (r = x, the first block). weight: `[N]`. N <= 16384.
        prenorm: also return r (the residual stream for the next block).

    Returns:
        y `[..., N]` in x's dtype, and (prenorm) r `[..., N]` fp32. Gradients reach x, residual and weight.
    """
    if residual is not None and residual.shape != x.shape:
        raise ValueError(f"add_rms_norm_triton: residual shape {tuple(residual.shape)} != x shape {tuple(x.shape)}")
    if weight.shape != x.shape[-1:]:
        raise ValueError(f"add_rms_norm_triton: weight shape {tuple(weight.shape)} != ({x.shape[-1]},)")
    return AddRMSNormFn.apply(x, residual, weight, eps, prenorm)
