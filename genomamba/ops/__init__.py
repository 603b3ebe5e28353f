"""Pure tensor ops with custom autograd: the selective scan (one and both directions), the causal
conv1d, the fused mixer interior, their references and the backend dispatch."""

from genomamba.ops.causal_conv1d import causal_conv1d, causal_conv1d_ref
from genomamba.ops.mamba_inner import mamba_inner, mamba_inner_ref
from genomamba.ops.selective_scan import (
    bidirectional_selective_scan,
    resolve_backend,
    selective_scan,
    set_backend_override,
)
from genomamba.ops.selective_scan_ref import bidirectional_selective_scan_ref, selective_scan_ref

__all__ = ["bidirectional_selective_scan", "bidirectional_selective_scan_ref", "causal_conv1d", "causal_conv1d_ref",
           "mamba_inner", "mamba_inner_ref", "resolve_backend", "selective_scan", "selective_scan_ref", "set_backend_override"]
