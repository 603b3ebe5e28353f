"""One rule for choosing a torch device: "auto" (or None) means CUDA when available, else the CPU."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """`None`/"auto" -> cuda if available else cpu; anything else is passed to `torch.device`.

    Raises:
        GenomambaError: a device string torch does not understand (names the value).
    """
    from genomamba.errors import GenomambaError

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise GenomambaError(f"device {device!r}: not a torch device (auto, cpu, cuda, cuda:1, ...)") from e
