"""genomamba_kernels: fused Triton kernels for genomamba (imports torch and triton only)."""

from genomamba_kernels.bidirectional import BidirectionalScanFn, bidirectional_selective_scan_triton
from genomamba_kernels.causal_conv1d import CausalConv1dFn, causal_conv1d_triton
from genomamba_kernels.decode import add_norm_linear_triton
from genomamba_kernels.layer_norm import AddRMSNormFn, add_rms_norm_triton
from genomamba_kernels.mamba_block import MambaBlockFn, mamba_block_triton
from genomamba_kernels.mamba_inner import MambaInnerFn, mamba_inner_triton
from genomamba_kernels.selective_scan import SelectiveScanFn, selective_scan_triton
from genomamba_kernels.state_update import mamba_step_triton

__all__ = ["AddRMSNormFn", "BidirectionalScanFn", "CausalConv1dFn", "MambaBlockFn", "MambaInnerFn", "SelectiveScanFn",
           "add_norm_linear_triton", "add_rms_norm_triton", "bidirectional_selective_scan_triton",
           "causal_conv1d_triton", "mamba_block_triton", "mamba_inner_triton", "mamba_step_triton", "selective_scan_triton"]
