"""genomamba_kernels: fused Triton kernels for genomamba (imports torch and triton only)."""

from genomamba_kernels.selective_scan import SelectiveScanFn, selective_scan_triton

__all__ = ["SelectiveScanFn", "selective_scan_triton"]
