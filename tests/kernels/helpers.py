"""Shared checks for the kernel tests."""

from __future__ import annotations

import torch


def assert_close(name: str, got: torch.Tensor | None, want: torch.Tensor | None, dtype: torch.dtype) -> None:
    """Max-abs error against a tolerance scaled by the reference's magnitude, per dtype."""
    assert (got is None) == (want is None), f"{name}: one side is None"
    if got is None:
        return
    tol = {torch.float32: 1e-4, torch.float16: 5e-3, torch.bfloat16: 3e-2}[dtype]
    assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    g, w = got.detach().double().cpu(), want.detach().double().cpu()
    assert torch.isfinite(g).all(), f"{name}: {int((~torch.isfinite(g)).sum())} non-finite (unwritten?) elements"
    err = (g - w).abs().max().item()
    scale = max(w.abs().max().item(), 1.0)
    rel = ((g - w).norm() / w.norm().clamp_min(1e-12)).item()
    assert err <= tol * scale, f"{name}: max abs err {err:.3e} > {tol * scale:.3e} (max |ref| {scale:.3e}, rel err {rel:.3e})"
