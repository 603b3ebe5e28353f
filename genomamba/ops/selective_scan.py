"""Public selective-scan op and its backend dispatch (the one place a backend is chosen).

Backends: `ref` (sequential fp32 spec), `numba` (fused CPU kernels; the CPU default where numba
imports), `torch` (chunked, vectorised; the CPU fallback),
`triton` (fused kernels from `genomamba_kernels`; the CUDA default), `mamba_ssm` (only where
mamba-ssm is installed; for comparison). Detection is lazy: importing this module does no work.
"""

from __future__ import annotations

import functools
import importlib.util
import os

import torch

from genomamba.ops.selective_scan_ref import selective_scan_ref
from genomamba.ops.selective_scan_torch import selective_scan_torch

BACKENDS = ("auto", "ref", "torch", "numba", "triton", "mamba_ssm")
_override: str | None = os.environ.get("GENOMAMBA_SCAN_BACKEND") or None


def set_backend_override(backend: str | None) -> None:
    """Force every `backend="auto"` call to one backend (tests and benchmarks); None clears it."""
    global _override
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"unknown scan backend {backend!r}; choose from {BACKENDS}")
    _override = backend


@functools.cache
def triton_available() -> bool:
    """True when Triton and the genomamba_kernels package import (checked once, lazily)."""
    return importlib.util.find_spec("triton") is not None and importlib.util.find_spec("genomamba_kernels") is not None


@functools.cache
def numba_available() -> bool:
    """True when the numba backend imports (numba installed and compatible with this numpy)."""
    try:
        import genomamba.ops.selective_scan_numba  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def mamba_ssm_available() -> bool:
    return importlib.util.find_spec("mamba_ssm") is not None


def resolve_backend(backend: str, device: torch.device) -> str:
    """Map `auto` to a concrete backend for tensors on `device`."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown scan backend {backend!r}; choose from {BACKENDS}")
    if backend == "auto":
        backend = _override or "auto"
    if backend == "auto":
        if device.type == "cuda" and triton_available():
            return "triton"
        return "numba" if device.type == "cpu" and numba_available() else "torch"
    if backend == "triton" and not triton_available():
        raise RuntimeError("scan backend 'triton' needs the triton package: pip install 'genomamba[triton]'")
    if backend == "numba" and not numba_available():
        raise RuntimeError("scan backend 'numba' needs numba: pip install numba")
    if backend == "mamba_ssm" and not mamba_ssm_available():
        raise RuntimeError("scan backend 'mamba_ssm' needs mamba-ssm: pip install 'genomamba[cuda]'")
    return backend


def selective_scan(
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
    backend: str = "auto",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Selective scan with mamba-ssm layouts; see `selective_scan_ref` for the exact semantics.

    Args:
        u, delta, z: `[B, D, L]`; A: `[D, N]`; B, C: `[B, N, L]` or `[B, G, N, L]`; D, delta_bias: `[D]`;
        initial_state: `[B, D, N]`; seq_idx: `[B, L]` int (packed sequences).
        backend: "auto" | "ref" | "torch" | "numba" | "triton" | "mamba_ssm".

    Returns:
        y `[B, D, L]` in u's dtype; with return_final_state also the fp32 state `[B, D, N]`.
    """
    kwargs = dict(
        D=D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus, initial_state=initial_state,
        return_final_state=return_final_state, reverse=reverse, seq_idx=seq_idx,
    )
    name = resolve_backend(backend, u.device)
    if name == "ref":
        return selective_scan_ref(u, delta, A, B, C, **kwargs)
    if name == "torch":
        return selective_scan_torch(u, delta, A, B, C, **kwargs)
    if name == "numba":
        from genomamba.ops.selective_scan_numba import selective_scan_numba

        return selective_scan_numba(u, delta, A, B, C, **kwargs)
    if name == "triton":
        from genomamba_kernels import selective_scan_triton

        return selective_scan_triton(u, delta, A, B, C, **kwargs)
    return _selective_scan_mamba_ssm(u, delta, A, B, C, **kwargs)


def _selective_scan_mamba_ssm(u, delta, A, B, C, *, D, z, delta_bias, delta_softplus, initial_state,
                              return_final_state, reverse, seq_idx):
    """mamba-ssm's CUDA kernel; it has no initial state, reverse or seq_idx, so those are refused."""
    if initial_state is not None or reverse or seq_idx is not None:
        raise NotImplementedError("mamba_ssm backend: no initial_state, reverse or seq_idx (use 'triton')")
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

    return selective_scan_fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state=return_final_state)


def bidirectional_selective_scan(
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
    backend: str = "auto",
) -> torch.Tensor:
    """Left-to-right scan with the `_f` parameters plus right-to-left scan with the `_b` ones, over
    the same input: (y_f + y_b) * silu(z) (BiMamba, Schiff et al. 2024, arXiv:2403.03234).

    Layouts as `selective_scan` (u, delta_*, z: `[B, D, L]`; A_*: `[D, N]`; B_*, C_*: `[B, N, L]`
    or `[B, G, N, L]`; D_*, delta_bias_*: `[D]`). The `triton` backend fuses both directions with
    no flips; the others run two `selective_scan` calls (the second with reverse=True).

    Returns:
        y `[B, D, L]` in u's dtype.
    """
    name = resolve_backend(backend, u.device)
    if name == "triton":
        from genomamba_kernels import bidirectional_selective_scan_triton

        return bidirectional_selective_scan_triton(
            u, delta_f, A_f, B_f, C_f, D_f, delta_bias_f, delta_b, A_b, B_b, C_b, D_b, delta_bias_b,
            z=z, delta_softplus=delta_softplus, seq_idx=seq_idx,
        )
    fwd = selective_scan(u, delta_f, A_f, B_f, C_f, D_f, z, delta_bias_f, delta_softplus, seq_idx=seq_idx,
                         backend=name)
    bwd = selective_scan(u, delta_b, A_b, B_b, C_b, D_b, z, delta_bias_b, delta_softplus, reverse=True,
                         seq_idx=seq_idx, backend=name)
    return fwd + bwd
