"""One rule for choosing a torch device: "auto" (or None) means CUDA when available, else the CPU;
an explicit device that this torch build or machine cannot give is a one-line error here, not an
AssertionError from deep inside torch later."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """`None`/"auto" -> cuda if available else cpu; anything else is passed to `torch.device`.

    Raises:
        GenomambaError: a device string torch does not understand, a cuda device without CUDA
            (a CPU-only torch or no GPU) or past the last GPU, mps where MPS is not available.
    """
    from genomamba.errors import GenomambaError

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise GenomambaError(f"device {device!r}: not a torch device (auto, cpu, cuda, cuda:1, ...)") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise GenomambaError(f"device {str(device)!r}: {why}; use cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise GenomambaError(f"device {str(device)!r}: only {torch.cuda.device_count()} CUDA GPU(s) visible "
                                 f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise GenomambaError(f"device {str(device)!r}: MPS is not available here; use cpu or auto")
    return dev
