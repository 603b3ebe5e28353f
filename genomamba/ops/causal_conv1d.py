"""Causal depthwise conv1d (+ SiLU) with a carried conv state: the reference and the dispatch.

The mixer's short convolution (Mamba's d_conv = 4) over channel-last activations `[B, L, D]`.
`causal_conv1d_ref` is the spec (torch only, fp32); `causal_conv1d` picks the fused Triton kernel
(`genomamba_kernels.causal_conv1d_triton`) on CUDA and the reference elsewhere.

Packed sequences (`seq_idx` `[B, L]` int, as the scans take it): a tap reaching into another sequence
reads zero, so every sequence starts from a zero conv state. The carried initial_state belongs to the
sequence at position 0: it feeds only positions whose seq_idx equals seq_idx[:, 0]. The final state
holds only the last sequence's inputs (entries of an earlier sequence are zero), so a packed chunk
hands the next chunk exactly the state of the sequence it continues.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genomamba.ops.selective_scan import resolve_backend


def causal_conv1d_ref(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    activation: str | None = "silu",
    return_final_state: bool = False,
    seq_idx: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """out[b, t, d] = act(bias[d] + sum_k w[d, k] x[b, t-(K-1)+k, d]), inputs before t=0 from the state.

    Args:
        x: `[B, L, D]`. weight: `[D, K]` or `[D, 1, K]`. bias: `[D]`.
        initial_state: `[B, D, K-1]`, the K-1 inputs before x[:, 0] (zeros when None).
        activation: "silu" or None.
        return_final_state: also return the last K-1 inputs `[B, D, K-1]`.
        seq_idx: `[B, L]` int, packed sequences (see the module docstring); None: one sequence per row.

    Returns:
        out `[B, L, D]` in x's dtype (and the final state in x's dtype).
    """
    if activation not in ("silu", None):
        raise ValueError(f"activation must be 'silu' or None, got {activation!r}")
    Bsz, L, D = x.shape
    w = weight.reshape(D, -1).float()
    K = w.shape[1]
    xt = x.float().transpose(1, 2)  # (B, L, D) -> (B, D, L)
    prev = xt.new_zeros(Bsz, D, K - 1) if initial_state is None else initial_state.float()
    x_cat = torch.cat([prev, xt], dim=-1)  # (B, D, K-1+L)
    if seq_idx is None:
        out = F.conv1d(x_cat, w[:, None, :], None if bias is None else bias.float(), groups=D)
    else:  # tap k of output t reads input t-(K-1)+k, kept where it lies in t's sequence
        seq_cat = torch.cat([seq_idx[:, :1].expand(-1, K - 1), seq_idx], dim=-1)  # the state is seq_idx[:, 0]'s
        out = xt.new_zeros(Bsz, D, L) if bias is None else bias.float()[None, :, None].expand(Bsz, D, L)
        for k in range(K):
            keep = (seq_cat[:, k:k + L] == seq_idx).unsqueeze(1)
            out = out + w[None, :, k:k + 1] * x_cat[..., k:k + L] * keep
        last = (seq_cat[:, L:] == seq_idx[:, -1:]).unsqueeze(1)  # the final state keeps the last sequence's
        x_cat = torch.cat([x_cat[..., :L], x_cat[..., L:] * last], dim=-1)
    if activation == "silu":
        out = F.silu(out)
    out = out.transpose(1, 2).to(x.dtype)
    if not return_final_state:
        return out
    return out, x_cat[..., x_cat.shape[-1] - (K - 1):].to(x.dtype)


def causal_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    activation: str | None = "silu",
    return_final_state: bool = False,
    backend: str = "auto",
    seq_idx: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Causal depthwise conv1d; see `causal_conv1d_ref`. backend: as `selective_scan`'s ("triton" uses
    the fused kernel, every other backend the reference). On both, the final state is sliced with torch
    ops, so it carries gradient to x and the initial state (chunked backprop needs it)."""
    if resolve_backend(backend, x.device) == "triton":
        from genomamba_kernels import causal_conv1d_triton

        return causal_conv1d_triton(x, weight, bias, initial_state, activation, return_final_state, seq_idx)
    return causal_conv1d_ref(x, weight, bias, initial_state, activation, return_final_state, seq_idx)
