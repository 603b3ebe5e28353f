"""Pure tensor ops with custom autograd: the selective scan (one and both directions) and its backends."""

from genomamba.ops.selective_scan import (
    bidirectional_selective_scan,
    resolve_backend,
    selective_scan,
    set_backend_override,
)
from genomamba.ops.selective_scan_ref import selective_scan_ref

__all__ = ["bidirectional_selective_scan", "selective_scan", "selective_scan_ref", "resolve_backend",
           "set_backend_override"]
