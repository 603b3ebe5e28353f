"""INT8 weight-only quantization for inference: every nn.Linear of a model becomes an `Int8Linear`.

Weights are stored as int8 with one fp scale per output row (symmetric, absmax / 127): about a
quarter of the fp32 weight memory at rest. Activations stay in the model's dtype, and each call
converts the int8 weight to that dtype for one F.linear, the row scales applied to the output
(dequantize on the fly). torch's own weight-only kernel, `torch._weight_int8pack_mm`, is not used:
on torch 2.13's CPU it is slower than this at one row and 20-70x slower at 16-64 rows (timings in
the issue 12 report), and its CUDA kernel is too recent to rely on.
`torch.ao.quantization.quantize_dynamic` is not used either: torch deprecates it (its own warning
says it is to be removed) and it quantizes activations too. Fused Mamba ops read
`x_proj.weight`, `dt_proj.weight` and `out_proj.weight` directly; on an `Int8Linear` that
attribute is the dequantized weight, so every path keeps working. The LM head tied to the
embedding is left as it is (quantizing it would untie and add a copy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Int8Linear", "quantize_int8", "weight_bytes"]


class Int8Linear(nn.Module):
    """y = x W^T (+ b) with W = int8 rows * per-row scales; built by `Int8Linear.from_linear`."""

    def __init__(self, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.in_features, self.out_features = qweight.shape[1], qweight.shape[0]
        self.register_buffer("qweight", qweight)  # (out, in) int8
        self.register_buffer("scale", scale)  # (out,) in the original weight dtype
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)

    @classmethod
    @torch.no_grad()
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        w = linear.weight.detach()
        scale = (w.float().abs().amax(dim=1) / 127).clamp_min(torch.finfo(torch.float32).tiny)
        q = torch.round(w.float() / scale[:, None]).clamp_(-127, 127).to(torch.int8)
        bias = None if linear.bias is None else linear.bias.detach().clone()
        return cls(q.contiguous(), scale.to(w.dtype), bias)

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized weight `[out, in]` in the scale's dtype (for ops that take weights)."""
        return self.qweight.to(self.scale.dtype) * self.scale[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.qweight.to(x.dtype)) * self.scale.to(x.dtype)
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, int8"


def quantize_int8(model: nn.Module) -> nn.Module:
    """Replace every nn.Linear of `model` (in place) by an `Int8Linear`, except a weight shared with
    another module (the LM head tied to the embedding). Returns the model, in eval mode.

    For inference only: the int8 weights take no gradient.
    """
    shared = {id(p) for name, m in model.named_modules() if not isinstance(m, nn.Linear)
              for p in m.parameters(recurse=False)}
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear and id(child.weight) not in shared:
                setattr(parent, name, Int8Linear.from_linear(child))
    return model.eval()


def weight_bytes(model: nn.Module) -> int:
    """Bytes held by the model's parameters and buffers (each storage once)."""
    seen, total = set(), 0
    for t in list(model.parameters()) + list(model.buffers()):
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total
