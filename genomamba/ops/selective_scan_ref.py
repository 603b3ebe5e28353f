"""Reference selective scan (Mamba-1, Gu & Dao 2023, arXiv:2312.00752): the spec every backend meets.

A sequential loop over L in fp32, torch only (imports without Triton), same signature and outputs
as `genomamba.ops.selective_scan`. Slow by design; tests compare every fast path to it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def expand_groups(BC: torch.Tensor, D: int) -> torch.Tensor:
    """B or C `[B, N, L]` or grouped `[B, G, N, L]` -> per-channel `[B, D, N, L]` (a view)."""
    if BC.dim() == 3:
        return BC.unsqueeze(1).expand(-1, D, -1, -1)
    G = BC.shape[1]
    if D % G:
        raise ValueError(f"channels D={D} not divisible by groups G={G}")
    return BC.repeat_interleave(D // G, dim=1)


def selective_scan_ref(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: torch.Tensor | None = None,
    return_final_state: bool = False,
    reverse: bool = False,
    seq_idx: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t;  y_t = C_t h_t + D u_t;  y *= silu(z).

    Args:
        u, delta: `[B, D, L]`.
        A: `[D, N]` (real, normally negative).
        B, C: `[B, N, L]`, or grouped `[B, G, N, L]` with G dividing D.
        D: `[D]` skip connection. z: `[B, D, L]` gate. delta_bias: `[D]`, added before softplus.
        initial_state: `[B, D, N]` state before the first step scanned (fp32).
        return_final_state: also return the state after the last step scanned.
        reverse: scan right to left (t = L-1 ... 0); the final state is then the state at t = 0.
        seq_idx: `[B, L]` int, packed sequences: the state resets to zero (not to
            initial_state) where seq_idx changes from the previous step scanned.

    Returns:
        y `[B, D, L]` in u's dtype, and with return_final_state the final state `[B, D, N]` fp32.
    """
    dtype_in = u.dtype
    Bsz, Dm, L = u.shape
    u, delta, A = u.float(), delta.float(), A.float()
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    Bx, Cx = B.float(), C.float()
    if Bx.dim() == 4:  # grouped (B, G, N, L) -> per channel (B, D, N, L)
        Bx, Cx = expand_groups(Bx, Dm), expand_groups(Cx, Dm)
    else:  # (B, N, L) -> (B, 1, N, L), broadcast over channels
        Bx, Cx = Bx.unsqueeze(1), Cx.unsqueeze(1)
    # unbind once: per-step slicing of a full tensor costs a full-size gradient per step
    us, ds, Bs, Cs = u.unbind(-1), delta.unbind(-1), Bx.unbind(-1), Cx.unbind(-1)
    h = u.new_zeros(Bsz, Dm, A.shape[1]) if initial_state is None else initial_state.float()
    ys = [None] * L
    steps = range(L - 1, -1, -1) if reverse else range(L)
    prev = None
    for t in steps:
        if seq_idx is not None and prev is not None:
            keep = (seq_idx[:, t] == seq_idx[:, prev]).float()[:, None, None]
            h = h * keep
        dA = torch.exp(ds[t][:, :, None] * A)
        h = dA * h + (ds[t] * us[t])[:, :, None] * Bs[t]
        ys[t] = (h * Cs[t]).sum(-1)
        prev = t
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + u * D.float()[:, None]
    if z is not None:
        y = y * F.silu(z.float())
    y = y.to(dtype_in)
    return (y, h) if return_final_state else y


def bidirectional_selective_scan_ref(
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
) -> torch.Tensor:
    """The spec of the bidirectional scan (BiMamba, Schiff et al. 2024): a left-to-right scan with the
    `_f` parameters plus a right-to-left one with the `_b` parameters, each with its own D skip and
    the shared gate z, summed in fp32. Layouts as `selective_scan_ref`; returns y `[B, D, L]` in u's dtype."""
    y_f = selective_scan_ref(u, delta_f, A_f, B_f, C_f, D_f, z, delta_bias_f, delta_softplus, seq_idx=seq_idx)
    y_b = selective_scan_ref(u, delta_b, A_b, B_b, C_b, D_b, z, delta_bias_b, delta_softplus, reverse=True,
                             seq_idx=seq_idx)
    return (y_f.float() + y_b.float()).to(u.dtype)
