"""What the Triton kernels share: output allocation (NaN-poisoned under GENOMAMBA_KERNELS_DEBUG=1), the SM
count their grids are sized by, whether Triton runs on a tensor, and the jit math helpers (softplus on the
MUFU units, sigmoid). Imports torch and triton only; every kernel module imports from here, and this module
from none of them."""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

LOG2E: tl.constexpr = tl.constexpr(1.4426950408889634)
LN2: tl.constexpr = tl.constexpr(0.6931471805599453)


def _debug() -> bool:
    return os.environ.get("GENOMAMBA_KERNELS_DEBUG", "") == "1"


def _empty(*shape, dtype, device) -> torch.Tensor:
    """Output allocation; under GENOMAMBA_KERNELS_DEBUG=1 it is NaN-poisoned so that an element a
    kernel forgot to write fails the tests."""
    if _debug():
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def runs_triton(x: torch.Tensor) -> bool:
    """Whether Triton kernels run on x: on CUDA, or anywhere under Triton's interpreter (the CPU tests)."""
    return x.is_cuda or os.environ.get("TRITON_INTERPRET", "") == "1"


def _num_sms(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 1


# Inline PTX runs on the GPU only: under Triton's interpreter (the CPU tests) `_log2_approx` takes tl.log2.
_PTX: tl.constexpr = tl.constexpr(os.environ.get("TRITON_INTERPRET", "") != "1")


@triton.jit
def _log2_approx(x):
    # the hardware lg2 (one MUFU op, abs error ~2^-22): tl.log2 and tl.log are libdevice's ~20-instruction polynomials
    if _PTX:
        return tl.inline_asm_elementwise("lg2.approx.ftz.f32 $0, $1;", "=r,r", [x], dtype=tl.float32, is_pure=True,
                                         pack=1)
    else:
        return tl.log2(x)


@triton.jit
def _softplus(v):
    # ln(1 + e^v) on the MUFU units: the backward runs it on each lane's copy of delta, where libdevice's logf was
    # a sixth of the kernel's instructions (BENCHMARKS.md 7k)
    return tl.where(v <= 20.0, _log2_approx(1.0 + tl.exp2(v * LOG2E)) * LN2, v)


@triton.jit
def _sigmoid(v):
    return 1.0 / (1.0 + tl.exp(-v))
