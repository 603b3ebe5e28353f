"""Pure tensor ops with custom autograd: the selective scan (one and both directions), the causal
conv1d, the fused mixer interior, the whole block (norm, in_proj and interior), its one-token decoding step, the residual add + RMSNorm (and, decoding, the next linear layer), their references and the backend dispatch."""

from genomamba.ops.causal_conv1d import causal_conv1d, causal_conv1d_ref
from genomamba.ops.mamba_inner import mamba_inner, mamba_inner_ref
from genomamba.ops.mamba_block import mamba_block, mamba_block_ref
from genomamba.ops.selective_scan import (
    bidirectional_selective_scan,
    resolve_backend,
    selective_scan,
    set_backend_override,
)
from genomamba.ops.selective_scan_ref import bidirectional_selective_scan_ref, selective_scan_ref
from genomamba.ops.add_norm import add_rms_norm, add_rms_norm_ref
from genomamba.ops.decode import add_norm_linear, add_norm_linear_ref
from genomamba.ops.state_update import mamba_step, mamba_step_ref

__all__ = ["add_norm_linear", "add_norm_linear_ref", "add_rms_norm", "add_rms_norm_ref", "bidirectional_selective_scan", "bidirectional_selective_scan_ref", "causal_conv1d", "causal_conv1d_ref",
           "mamba_block", "mamba_block_ref", "mamba_inner", "mamba_inner_ref", "mamba_step", "mamba_step_ref", "resolve_backend", "selective_scan", "selective_scan_ref", "set_backend_override"]
