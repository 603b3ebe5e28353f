"""genomamba_kernels: fused Triton kernels for genomamba (imports torch and triton only)."""

if __name__ == "kernels":
    # Imported by its folder's name: Python runs inside a genomamba checkout (its root on sys.path), where this
    # folder, installed as `genomamba_kernels`, would shadow Hugging Face's `kernels` package that transformers
    # imports. Hand the import to the next `kernels` on sys.path, or fail as if there were none.
    import importlib.util as _util
    import sys as _sys
    from importlib.machinery import PathFinder as _PathFinder
    from pathlib import Path as _Path

    _checkout = _Path(__file__).resolve().parent.parent
    _rest = [p for p in _sys.path if _Path(p or ".").resolve() != _checkout]
    _spec = _PathFinder.find_spec("kernels", _rest)
    if _spec is None:
        raise ModuleNotFoundError("No module named 'kernels' (genomamba's kernels/ folder imports as genomamba_kernels)",
                                  name="kernels")
    _module = _util.module_from_spec(_spec)
    _sys.modules["kernels"] = _module  # the import statement returns what sys.modules holds once this file ends
    _spec.loader.exec_module(_module)
else:
    from genomamba_kernels.bidirectional import BidirectionalScanFn, bidirectional_selective_scan_triton
    from genomamba_kernels.causal_conv1d import CausalConv1dFn, causal_conv1d_triton
    from genomamba_kernels.decode import add_norm_linear_triton
    from genomamba_kernels.layer_norm import AddRMSNormFn, add_rms_norm_triton
    from genomamba_kernels.mamba_block import MambaBlockFn, mamba_block_triton
    from genomamba_kernels.mamba_inner import MambaInnerFn, mamba_inner_triton
    from genomamba_kernels.selective_scan import SelectiveScanFn, selective_scan_triton
    from genomamba_kernels.state_update import mamba_step_triton

    __all__ = ["AddRMSNormFn", "BidirectionalScanFn", "CausalConv1dFn", "MambaBlockFn", "MambaInnerFn",
               "SelectiveScanFn", "add_norm_linear_triton", "add_rms_norm_triton",
               "bidirectional_selective_scan_triton", "causal_conv1d_triton", "mamba_block_triton",
               "mamba_inner_triton", "mamba_step_triton", "selective_scan_triton"]
