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


@triton.jit
def _exp2_fma(x):
    """2^x for x <= 0 on the FMA pipe (11 instructions, relative error 2.5e-7, as MUFU's ex2.approx), for
    MUFU-bound passes to move part of their exps off the MUFU (BENCHMARKS.md 7o). round(x) by the
    1.5 * 2^23 magic add, 2^f on f in [-0.5, 0.5] by a degree-5 polynomial (exact at f = 0), the integer
    part added into the exponent bits. Below -125 it returns 2^-125 (about 2e-38) where 2^x underflows."""
    x = tl.maximum(x, -125.0)
    t = x + 12582912.0  # the low mantissa bits of t hold round(x), two's complement
    f = x - (t - 12582912.0)
    p = tl.fma(f, 0.0013269970659166574, 0.009675493463873863)
    p = tl.fma(p, f, 0.05550733581185341)
    p = tl.fma(p, f, 0.24022120237350464)
    p = tl.fma(p, f, 0.6931469440460205)
    p = tl.fma(p, f, 1.0)
    bits = p.to(tl.int32, bitcast=True) + (t.to(tl.int32, bitcast=True) << 23)
    return bits.to(tl.float32, bitcast=True)
