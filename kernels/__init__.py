"""genomamba_kernels: fused Triton kernels for genomamba (imports torch and triton only)."""

from genomamba_kernels.bidirectional import BidirectionalScanFn, bidirectional_selective_scan_triton
from genomamba_kernels.selective_scan import SelectiveScanFn, selective_scan_triton

__all__ = ["BidirectionalScanFn", "SelectiveScanFn", "bidirectional_selective_scan_triton", "selective_scan_triton"]
