"""Bidirectional selective scan (Caduceus-style BiMamba, Schiff et al. 2024, arXiv:2403.03234).

y = scan(u; forward params) + scan_right_to_left(u; backward params), gated once by silu(z).
No tensor is flipped or copied (Caduceus and mamba-ssm flip u, delta, B, C, z and y): the
left-to-right pass writes y, then the right-to-left pass (`REVERSE`) adds its part into the same
y in place (`ACCUM`). The backward likewise runs the two directions' adjoint passes, the second
adding its du and dz into the first's. Each direction reuses the kernels of `selective_scan.py`
(per direction one launch, plus the chunk passes when L is split).

A single-program version that swept both directions per chunk (one launch) measured 2.6x the
time of two launches on an H100 (benchmarks/kernels/NOTES.md) and was dropped.
Each direction is a public `ScanDirection` of `selective_scan.py`. Imports torch and triton only.
"""

from __future__ import annotations

import torch

from genomamba_kernels.scan_layout import _bc_grad, _to_caller
from genomamba_kernels.selective_scan import ScanDirection


def _check_pair(name, f, b):
    if (f is None) != (b is None):
        raise ValueError(f"{name}_f and {name}_b must both be given or both be None")


def _cast(grads, like, restaged: bool):
    """Per-direction grads (ddelta, dA, dB4, dC4, dD, dbias) in the dtypes, B/C ranks and (restaged:
    L-contiguous) layouts of `like` (A, B, C, D, delta_bias as given)."""
    ddl, dA, dB, dC, dD, dbias = grads
    A, B, C, D, bias = like
    return (_to_caller(ddl, restaged), dA.to(A.dtype), _bc_grad(dB, B.dtype, B.dim(), restaged),
            _bc_grad(dC, C.dtype, C.dim(), restaged), None if dD is None else dD.to(D.dtype),
            None if dbias is None else dbias.to(bias.dtype))


class BidirectionalScanFn(torch.autograd.Function):
    """Autograd for the fused bidirectional scan: two `ScanDirection`s over one u and z, the second
    (right to left) adding into the first's y, du and dz."""

    @staticmethod
    def forward(ctx, u, delta_f, A_f, B_f, C_f, D_f, delta_bias_f, delta_b, A_b, B_b, C_b, D_b, delta_bias_b, z,
                delta_softplus, seq_idx, chunk_size):
        if B_f.shape != B_b.shape or A_f.shape != A_b.shape:
            raise ValueError("both directions need the same A, B and C shapes")
        f = ScanDirection(u, delta_f, A_f, B_f, C_f, D_f, delta_bias_f, z, seq_idx, delta_softplus, False, chunk_size)
        b = ScanDirection(f.u, delta_b, A_b, B_b, C_b, D_b, delta_bias_b, f.z, seq_idx, delta_softplus, True,
                          plan=f.plan)
        y, hs_f = f.forward()
        y, hs_b = b.forward(y_acc=y)
        ctx.f, ctx.b = f, b
        ctx.save_for_backward(hs_f, hs_b)
        ctx.like = ((A_f, B_f, C_f, D_f, delta_bias_f), (A_b, B_b, C_b, D_b, delta_bias_b))
        return f.to_caller(y)

    @staticmethod
    def backward(ctx, dy):
        hs_f, hs_b = ctx.saved_tensors
        f = ctx.f
        dy = f.match(dy)  # once, for both directions
        du, ddl_f, dA_f, dB_f, dC_f, dD_f, dz, dbias_f = f.backward(hs_f, dy)
        _, ddl_b, dA_b, dB_b, dC_b, dD_b, _, dbias_b = ctx.b.backward(hs_b, dy, du_acc=du, dz_acc=dz)
        gf = _cast((ddl_f, dA_f, dB_f, dC_f, dD_f, dbias_f), ctx.like[0], f.restaged)
        gb = _cast((ddl_b, dA_b, dB_b, dC_b, dD_b, dbias_b), ctx.like[1], f.restaged)
        return (f.to_caller(du), *gf, *gb, f.to_caller(dz), None, None, None)


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
