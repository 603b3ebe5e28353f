"""The Mamba mixer between in_proj and out_proj as one autograd function, saving little for backward.

conv1d + SiLU -> x_proj -> dt_proj -> selective scan (D skip, SiLU(z) gate) -> out_proj, over
channel-last `[B, L, *]` activations (mamba-ssm's `mamba_inner_fn` idea, Gu & Dao 2023). Only
xz (in_proj's output), x_proj's small output and the scan's chunk-start states are saved; the conv
output and delta are recomputed in backward (two cheap passes), and the gated scan output that
out_proj's weight gradient needs comes out of the scan's backward kernel, which recomputes it anyway.
The backward writes the conv's and the scan's gradients straight into the two halves of one dxz,
and drops each temporary as soon as it is spent (the backward's peak is the model's).
`inner_forward` / `inner_backward` are shared with the whole block (`genomamba_kernels.mamba_block`),
which saves less still. Imports torch and triton only.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from genomamba_kernels.causal_conv1d import (
    _causal_conv1d_bwd,
    _causal_conv1d_fwd,
    final_conv_state,
)
from genomamba_kernels.scan_layout import _prep
from genomamba_kernels.scan_plan import _Plan
from genomamba_kernels.selective_scan import _selective_scan_bwd, _selective_scan_fwd


class InnerSaved(NamedTuple):
    """What the interior's backward needs besides xz: its weights, the carried states in, x_proj's
    output, the chunk-start states and seq_idx."""

    w2: torch.Tensor  # conv weight `[Di, K]`
    conv_b: torch.Tensor | None
    x_proj_w: torch.Tensor
    dt_proj_w: torch.Tensor
    dt_bias: torch.Tensor
    A: torch.Tensor
    D: torch.Tensor
    out_proj_w: torch.Tensor
    cst: torch.Tensor | None  # conv state in
    init: torch.Tensor | None  # ssm state in (fp32)
    x_dbl: torch.Tensor  # x_proj's output `[B, L, R + 2N]`
    hs: torch.Tensor  # the scan's chunk-start states
    seq: torch.Tensor | None


def _inner_inputs(xz, conv_w, conv_b, x_proj_w, dt_proj_w, conv_state, dt_rank, seq):
    """conv output `[B, L, Di]`, x_proj's output `[B, L, R + 2N]` and delta (before bias) `[B, L, Di]`."""
    Di = xz.shape[-1] // 2
    xc = _causal_conv1d_fwd(xz[..., :Di], conv_w, conv_b, conv_state, True, seq)
    x_dbl = F.linear(xc, x_proj_w.to(xz.dtype))
    delta = F.linear(x_dbl[..., :dt_rank], dt_proj_w.to(xz.dtype))
    return xc, x_dbl, delta


def _scan_args(xz, xc, x_dbl, delta, A, D, dt_bias, dt_rank, d_state, init, seq):
    """Scan inputs as the kernels' `[B, D, L]` / `[B, N, L]` strided views (no copies)."""
    Di = xz.shape[-1] // 2
    Bm = x_dbl[..., dt_rank:dt_rank + d_state].transpose(1, 2)
    Cm = x_dbl[..., dt_rank + d_state:].transpose(1, 2)
    return _prep(xc.transpose(1, 2), delta.transpose(1, 2), A, Bm, Cm, D, xz[..., Di:].transpose(1, 2), dt_bias,
                 init, seq)[:-1]  # channel-last already: never restaged


def inner_forward(xz, conv_w, conv_b, x_proj_w, dt_proj_w, dt_bias, A, D, out_proj_w, conv_state, ssm_state,
                  dt_rank, d_state, seq_idx):
    """(out `[B, L, d_model]`, conv state out, ssm state out, `InnerSaved`, plan) for xz `[B, L, 2 Di]`."""
    w2 = conv_w.reshape(conv_w.shape[0], -1).contiguous()
    cst = None if conv_state is None else conv_state.contiguous()
    seq = None if seq_idx is None else seq_idx.to(torch.int32).contiguous()
    xc, x_dbl, delta = _inner_inputs(xz, w2, conv_b, x_proj_w, dt_proj_w, cst, dt_rank, seq)
    u, dl, A_, B4, C4, D_, z, bias, init, _ = _scan_args(xz, xc, x_dbl, delta, A, D, dt_bias, dt_rank, d_state,
                                                         ssm_state, seq)
    Bsz, Di, L = u.shape
    plan = _Plan(Bsz, Di, A.shape[1], L, 1, xz.device)
    y, final, hs = _selective_scan_fwd(u, dl, A_, B4, C4, D_, z, bias, True, init, seq, False, True, plan)
    del xc, delta, u, dl
    out = F.linear(y.transpose(1, 2), out_proj_w.to(xz.dtype))  # y is channel-last: no copy
    conv_out = final_conv_state(xz[..., :Di], cst, w2.shape[1], seq)
    saved = InnerSaved(w2, conv_b, x_proj_w, dt_proj_w, dt_bias, A, D, out_proj_w, cst, init, x_dbl, hs, seq)
    return out, conv_out, final, saved, plan


def inner_backward(xz: torch.Tensor, s: InnerSaved, dout: torch.Tensor, dt_rank: int, d_state: int, plan: _Plan):
    """(dxz, dconv_w `[Di, K]`, dconv_b, dx_proj_w, ddt_proj_w, ddt_bias, dA, dD, dout_proj_w), each
    weight gradient in its weight's dtype."""
    dtype, Di = xz.dtype, xz.shape[-1] // 2
    xc = _causal_conv1d_fwd(xz[..., :Di], s.w2, s.conv_b, s.cst, True, s.seq)  # recomputed, not saved
    delta = F.linear(s.x_dbl[..., :dt_rank], s.dt_proj_w.to(dtype))
    u, dl, A_, B4, C4, D_, z, bias, _, _ = _scan_args(xz, xc, s.x_dbl, delta, s.A, s.D, s.dt_bias, dt_rank, d_state,
                                                      s.init, s.seq)
    dout = dout.to(dtype)
    dy = dout @ s.out_proj_w.to(dtype)  # (B, L, Di): the scan's output grad, channel-last like u
    dxz = torch.empty_like(xz)
    y_gated = torch.empty_like(xc)
    du, ddl, dA, dB, dC, dD, _, dbias, _ = _selective_scan_bwd(
        u, dl, A_, B4, C4, D_, z, bias, True, s.seq, s.hs, dy.transpose(1, 2), None, False, False, plan,
        dz_out=dxz[..., Di:].transpose(1, 2), y_out=y_gated.transpose(1, 2))
    del dy, delta, u, dl, z
    d_out_w = (dout.flatten(0, 1).t() @ y_gated.flatten(0, 1)).to(s.out_proj_w.dtype)
    del y_gated
    ddl = ddl.transpose(1, 2)  # (B, L, Di)
    d_dbl = torch.cat([ddl @ s.dt_proj_w.to(dtype), dB.squeeze(1).transpose(1, 2).to(dtype),
                       dC.squeeze(1).transpose(1, 2).to(dtype)], dim=-1)  # (B, L, R + 2N), small
    d_dt_w = (ddl.flatten(0, 1).t() @ s.x_dbl[..., :dt_rank].flatten(0, 1)).to(s.dt_proj_w.dtype)
    del ddl, dB, dC
    d_xproj_w = (d_dbl.flatten(0, 1).t() @ xc.flatten(0, 1)).to(s.x_proj_w.dtype)
    dxc = torch.addmm(du.transpose(1, 2).reshape(-1, Di), d_dbl.flatten(0, 1), s.x_proj_w.to(dtype)).view_as(xc)
    del du, xc, d_dbl
    _, _, dw, db = _causal_conv1d_bwd(xz[..., :Di], s.w2, s.conv_b, s.cst, dxc, True, dx=dxz[..., :Di], seq=s.seq)
    return (dxz, dw.to(s.w2.dtype), None if db is None else db.to(s.conv_b.dtype), d_xproj_w, d_dt_w,
            dbias.to(s.dt_bias.dtype), dA.to(s.A.dtype), dD.to(s.D.dtype), d_out_w)


class MambaInnerFn(torch.autograd.Function):
    """Autograd of `mamba_inner_triton`. The carried states (in and out) get no gradient."""

    @staticmethod
    def forward(ctx, xz, conv_w, conv_b, x_proj_w, dt_proj_w, dt_bias, A, D, out_proj_w, conv_state, ssm_state,
                dt_rank, d_state, seq_idx):
        out, conv_out, final, saved, plan = inner_forward(xz, conv_w, conv_b, x_proj_w, dt_proj_w, dt_bias, A, D,
                                                          out_proj_w, conv_state, ssm_state, dt_rank, d_state,
                                                          seq_idx)
        ctx.save_for_backward(xz, *saved)
        ctx.meta = (dt_rank, d_state, conv_w.shape, plan)
        ctx.mark_non_differentiable(conv_out, final)
        return out, conv_out, final

    @staticmethod
    def backward(ctx, dout, _dconv_state, _dssm_state):
        xz, *saved = ctx.saved_tensors
        dt_rank, d_state, conv_shape, plan = ctx.meta
        dxz, dw, db, *grads = inner_backward(xz, InnerSaved(*saved), dout, dt_rank, d_state, plan)
        return (dxz, dw.reshape(conv_shape), db, *grads, None, None, None, None, None)


def mamba_inner_triton(
    xz: torch.Tensor,
    conv_weight: torch.Tensor,
    conv_bias: torch.Tensor,
    x_proj_weight: torch.Tensor,
    dt_proj_weight: torch.Tensor,
    dt_bias: torch.Tensor,
    A: torch.Tensor,
    D: torch.Tensor,
    out_proj_weight: torch.Tensor,
    dt_rank: int,
    d_state: int,
    conv_state: torch.Tensor | None = None,
    ssm_state: torch.Tensor | None = None,
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mamba mixer from in_proj's output to out_proj's: (out `[B, L, d_model]`, conv state, ssm state).

    Args:
        xz: `[B, L, 2 Di]`, in_proj's output (x half, then the gate z), in the compute dtype.
        conv_weight: `[Di, 1, K]` or `[Di, K]`; conv_bias: `[Di]`. x_proj_weight: `[R + 2N, Di]`.
        dt_proj_weight: `[Di, R]`; dt_bias: `[Di]` (softplus(delta + dt_bias)). A: `[Di, N]`; D: `[Di]`.
        out_proj_weight: `[d_model, Di]`. dt_rank, d_state: R and N.
        conv_state: `[B, Di, K-1]`, ssm_state: `[B, Di, N]` fp32, carried from a previous chunk (no grad).
        seq_idx: `[B, L]` int, packed sequences: conv and scan restart from zero where it changes.

    Returns:
        out in xz's dtype, the conv state `[B, Di, K-1]` and the fp32 ssm state `[B, Di, N]` after
        the last position (no gradient flows through the states).
    """
    return MambaInnerFn.apply(xz, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, dt_bias, A, D,
                              out_proj_weight, conv_state, ssm_state, dt_rank, d_state, seq_idx)
