"""One decoding step of the Mamba mixer between in_proj and out_proj, fused into one Triton launch.

For one new position per row: roll the conv state and convolve (+ SiLU), x_proj (dt, B, C),
dt_proj + softplus, the SSM state update h = exp(dt A) h + dt B x, y = C h + D x, gated by
SiLU(z). mamba-ssm runs this as `causal_conv1d_update`, two GEMVs and `selective_state_update`
(`mamba_ssm/ops/triton/selective_state_update.py`); here one program per batch row does it all,
so a decode step costs one launch per layer between the two projections. The conv and SSM states
are updated in place (fixed addresses, as a CUDA graph replay needs). Pass 1 over channel blocks
convolves and accumulates x_proj's output (the whole of it is needed before dt, B and C exist);
pass 2 recomputes the conv (cheaper than a round trip through memory), runs the SSM update and
writes the rolled conv state, each block's writes after a barrier. A = -exp(A_log) is formed in
the kernel. Imports torch and triton only.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from genomamba_kernels.common import _empty, _sigmoid, _softplus


@triton.jit
def _conv_window(xz_b, cs_b, cw_ptr, cb_ptr, offs_d, mask_d, stride_csd, stride_csk, K: tl.constexpr,
                 BLOCK_K: tl.constexpr, HAS_CONV_BIAS: tl.constexpr):
    # the window `[BLOCK_D, BLOCK_K]`: the K-1 carried inputs, then x_t; and silu(bias + w . window)
    offs_k = tl.arange(0, BLOCK_K)
    win = tl.load(cs_b + offs_d[:, None] * stride_csd + offs_k[None, :] * stride_csk,
                  mask=mask_d[:, None] & (offs_k < K - 1)[None, :], other=0.0).to(tl.float32)
    x_t = tl.load(xz_b + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    win = tl.where((offs_k == K - 1)[None, :], x_t[:, None], win)
    w = tl.load(cw_ptr + offs_d[:, None] * K + offs_k[None, :], mask=mask_d[:, None] & (offs_k < K)[None, :],
                other=0.0).to(tl.float32)
    acc = tl.sum(win * w, axis=1)
    if HAS_CONV_BIAS:
        acc += tl.load(cb_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    return acc * _sigmoid(acc), win


@triton.jit
def _mamba_step_kernel(xz_ptr, cs_ptr, ss_ptr, cw_ptr, cb_ptr, xw_ptr, dtw_ptr, dtb_ptr, Alog_ptr, D_ptr, y_ptr,
                       Di, R, N, stride_xzb, stride_csb, stride_csd, stride_csk, stride_ssb, stride_ssd, stride_yb,
                       K: tl.constexpr, HAS_CONV_BIAS: tl.constexpr, HAS_DT_BIAS: tl.constexpr, HAS_D: tl.constexpr,
                       BLOCK_D: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr):
    pid_b = tl.program_id(0)
    xz_b = xz_ptr + pid_b * stride_xzb
    cs_b = cs_ptr + pid_b * stride_csb
    ss_b = ss_ptr + pid_b * stride_ssb
    offs_k = tl.arange(0, BLOCK_K)
    offs_r = tl.arange(0, BLOCK_R)
    mask_r = offs_r < R
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    dt_low = tl.zeros([BLOCK_R], tl.float32)
    Bv = tl.zeros([BLOCK_N], tl.float32)
    Cv = tl.zeros([BLOCK_N], tl.float32)
    # pass 1: x_proj(conv(x)) -> dt_low `[R]`, B `[N]`, C `[N]` (reads only)
    for d0 in range(0, Di, BLOCK_D):
        offs_d = d0 + tl.arange(0, BLOCK_D)
        mask_d = offs_d < Di
        xc, win = _conv_window(xz_b, cs_b, cw_ptr, cb_ptr, offs_d, mask_d, stride_csd, stride_csk, K, BLOCK_K,
                               HAS_CONV_BIAS)
        cols = offs_d[None, :]
        w = tl.load(xw_ptr + offs_r[:, None] * Di + cols, mask=mask_r[:, None] & mask_d[None, :], other=0.0)
        dt_low += tl.sum(w.to(tl.float32) * xc[None, :], axis=1)
        mnd = mask_n[:, None] & mask_d[None, :]
        w = tl.load(xw_ptr + (R + offs_n)[:, None] * Di + cols, mask=mnd, other=0.0)
        Bv += tl.sum(w.to(tl.float32) * xc[None, :], axis=1)
        w = tl.load(xw_ptr + (R + N + offs_n)[:, None] * Di + cols, mask=mnd, other=0.0)
        Cv += tl.sum(w.to(tl.float32) * xc[None, :], axis=1)
    # pass 2: dt_proj + softplus, the SSM update, the gated output and the rolled conv state
    for d0 in range(0, Di, BLOCK_D):
        offs_d = d0 + tl.arange(0, BLOCK_D)
        mask_d = offs_d < Di
        xc, win = _conv_window(xz_b, cs_b, cw_ptr, cb_ptr, offs_d, mask_d, stride_csd, stride_csk, K, BLOCK_K,
                               HAS_CONV_BIAS)
        wdt = tl.load(dtw_ptr + offs_d[:, None] * R + offs_r[None, :], mask=mask_d[:, None] & mask_r[None, :],
                      other=0.0)
        dt = tl.sum(wdt.to(tl.float32) * dt_low[None, :], axis=1)
        if HAS_DT_BIAS:
            dt += tl.load(dtb_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
        dt = _softplus(dt)
        mdn = mask_d[:, None] & mask_n[None, :]
        A = -tl.exp(tl.load(Alog_ptr + offs_d[:, None] * N + offs_n[None, :], mask=mdn, other=0.0).to(tl.float32))
        sp = ss_b + offs_d[:, None] * stride_ssd + offs_n[None, :]
        h = tl.load(sp, mask=mdn, other=0.0)
        h = h * tl.exp(dt[:, None] * A) + (dt * xc)[:, None] * Bv[None, :]
        y = tl.sum(h * Cv[None, :], axis=1)
        if HAS_D:
            y += xc * tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
        z = tl.load(xz_b + Di + offs_d, mask=mask_d, other=0.0).to(tl.float32)
        y = y * z * _sigmoid(z)
        # every read of the states (pass 1's too) before any write: a layout may hold an element in
        # more than one thread, and one thread's write must not reach another's read
        tl.debug_barrier()
        tl.store(sp, h, mask=mdn)
        tl.store(cs_b + offs_d[:, None] * stride_csd + (offs_k - 1)[None, :] * stride_csk,  # window[k] -> slot k-1
                 win.to(cs_b.dtype.element_ty), mask=mask_d[:, None] & ((offs_k >= 1) & (offs_k < K))[None, :])
        tl.store(y_ptr + pid_b * stride_yb + offs_d, y.to(y_ptr.dtype.element_ty), mask=mask_d)


def mamba_step_triton(
    xz: torch.Tensor,
    conv_state: torch.Tensor,
    ssm_state: torch.Tensor,
    conv_weight: torch.Tensor,
    conv_bias: torch.Tensor | None,
    x_proj_weight: torch.Tensor,
    dt_proj_weight: torch.Tensor,
    dt_bias: torch.Tensor | None,
    A_log: torch.Tensor,
    D: torch.Tensor | None,
    dt_rank: int,
    d_state: int,
) -> torch.Tensor:
    """One position of the mixer interior; see `genomamba.ops.state_update.mamba_step_ref`.

    Args:
        xz: `[B, 2 Di]` (in_proj's output for the new position: x, then the gate z).
        conv_state: `[B, Di, K-1]` (xz's dtype), ssm_state: `[B, Di, N]` fp32, with unit stride on
            the last dim of ssm_state; both updated in place. conv_weight: `[Di, 1, K]` or `[Di, K]`.
        x_proj_weight: `[R + 2N, Di]`; dt_proj_weight: `[Di, R]`; A_log: `[Di, N]` (A = -exp(A_log)).

    Returns:
        y `[B, Di]` in xz's dtype, the input of out_proj.
    """
    Bsz, two_di = xz.shape
    Di = two_di // 2
    K = conv_weight.shape[-1]
    if xz.stride(-1) != 1 or ssm_state.stride(-1) != 1 or ssm_state.dtype != torch.float32:
        raise ValueError("mamba_step_triton: xz and ssm_state need a unit last stride, ssm_state fp32")
    cw = conv_weight.reshape(Di, K).contiguous()
    xw, dtw, A_log = x_proj_weight.contiguous(), dt_proj_weight.contiguous(), A_log.contiguous()
    y = _empty(Bsz, Di, dtype=xz.dtype, device=xz.device)
    if xz.device.type == "cuda":
        block_d, num_warps = min(256, triton.next_power_of_2(Di)), 8 if Di >= 256 else 4
    else:  # the interpreter: small tiles, so the channel loop runs more than once in the tests
        block_d, num_warps = min(16, triton.next_power_of_2(Di)), 1
    _mamba_step_kernel[(Bsz,)](
        xz, conv_state, ssm_state, cw, conv_bias if conv_bias is not None else cw, xw, dtw,
        dt_bias if dt_bias is not None else cw, A_log, D if D is not None else cw, y,
        Di, dt_rank, d_state, xz.stride(0), conv_state.stride(0), conv_state.stride(1), conv_state.stride(2),
        ssm_state.stride(0), ssm_state.stride(1), y.stride(0),
        K=K, HAS_CONV_BIAS=conv_bias is not None, HAS_DT_BIAS=dt_bias is not None, HAS_D=D is not None,
        BLOCK_D=block_d, BLOCK_K=triton.next_power_of_2(K), BLOCK_R=max(16, triton.next_power_of_2(dt_rank)),
        BLOCK_N=max(16, triton.next_power_of_2(d_state)), num_warps=num_warps,
    )
    return y

