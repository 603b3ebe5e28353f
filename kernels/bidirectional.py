"""Bidirectional selective scan (Caduceus-style BiMamba, Schiff et al. 2024, arXiv:2403.03234).

y = scan(u; forward params) + scan_right_to_left(u; backward params), gated once by silu(z).
No tensor is flipped or copied (Caduceus and mamba-ssm flip u, delta, B, C, z and y): the
left-to-right pass writes y, then the right-to-left pass (`REVERSE`) adds its part into the same
y in place (`ACCUM`). The backward likewise runs the two directions' adjoint passes, the second
adding its du and dz into the first's. Each direction reuses the kernels of `selective_scan.py`
(per direction one launch, plus the chunk passes when L is split).

A single-program version that swept both directions per chunk (one launch) measured 2.6x the
time of two launches on an H100 (benchmarks/kernels/NOTES.md) and was dropped.
Imports torch and triton only.
"""

from __future__ import annotations

import torch

from genomamba_kernels.selective_scan import _Plan, _prep, _selective_scan_bwd, _selective_scan_fwd


def _check_pair(name, f, b):
    if (f is None) != (b is None):
        raise ValueError(f"{name}_f and {name}_b must both be given or both be None")


def _bidirectional_scan_fwd(u, z, seq, f, b, softplus, plan: _Plan):
    """f, b: per-direction (delta, A, B4, C4, D, bias) already prepared. Returns y and the two
    directions' chunk-start states."""
    y, _, hs_f = _selective_scan_fwd(u, f[0], f[1], f[2], f[3], f[4], z, f[5], softplus, None, seq, False, False,
                                     plan)
    y, _, hs_b = _selective_scan_fwd(u, b[0], b[1], b[2], b[3], b[4], z, b[5], softplus, None, seq, True, False,
                                     plan, y_acc=y)
    return y, hs_f, hs_b


def _bidirectional_scan_bwd(u, z, seq, f, b, hs_f, hs_b, dout, softplus, plan: _Plan):
    """Returns du, dz and per direction (ddelta, dA, dB4, dC4, dD, dbias) (the last five fp32)."""
    du, ddl_f, dA_f, dB_f, dC_f, dD_f, dz, dbias_f, _ = _selective_scan_bwd(
        u, f[0], f[1], f[2], f[3], f[4], z, f[5], softplus, seq, hs_f, dout, None, False, False, plan)
    _, ddl_b, dA_b, dB_b, dC_b, dD_b, _, dbias_b, _ = _selective_scan_bwd(
        u, b[0], b[1], b[2], b[3], b[4], z, b[5], softplus, seq, hs_b, dout, None, True, False, plan,
        du_acc=du, dz_acc=dz)
    return du, dz, (ddl_f, dA_f, dB_f, dC_f, dD_f, dbias_f), (ddl_b, dA_b, dB_b, dC_b, dD_b, dbias_b)


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
