"""Mamba mixer (Gu & Dao 2023, arXiv:2312.00752; layout of mamba_ssm/modules/mamba_simple.py).

in_proj -> depthwise causal conv1d -> SiLU -> x_proj (dt, B, C) -> dt_proj -> selective scan
(D skip, SiLU(z) gate) -> out_proj. The conv and SSM state can be passed in and returned, so a
sequence scored chunk by chunk gives the same result as one pass over the whole of it, and `step`
advances the state by one token in place (decoding, `genomamba.models.generation`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import nn

from genomamba.modules.norm import RMSNorm
from genomamba.ops import mamba_inner, mamba_step
from genomamba.ops.mamba_block import mamba_block

if TYPE_CHECKING:  # the config is read, not imported: modules stay below models
    from genomamba.models.config import MambaConfig


class MixerState(NamedTuple):
    """Carried between chunks: the last d_conv-1 conv inputs and the SSM state."""

    conv: torch.Tensor  # (B, d_inner, d_conv - 1), the conv input dtype
    ssm: torch.Tensor  # (B, d_inner, d_state), fp32


@torch.no_grad()
def init_dt_proj(dt_proj: nn.Linear, dt_rank: int, dt_min: float, dt_max: float, floor: float) -> None:
    """Mamba's dt init: weights U(+-dt_rank^-0.5); softplus(bias) log-uniform in [dt_min, dt_max]."""
    std = dt_rank**-0.5
    nn.init.uniform_(dt_proj.weight, -std, std)
    d = dt_proj.out_features
    dt = torch.exp(torch.rand(d) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=floor)
    dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
    dt_proj.bias._no_reinit = True


class MambaMixer(nn.Module):
    """Selective SSM mixer; x: `[B, L, d_model]` -> `[B, L, d_model]`.

    Activations stay channel-last `[B, L, D]` end to end (`genomamba.ops.mamba_inner`): in_proj's
    output is split into views, the causal conv reads its half in place and the scan takes the
    `[B, D, L]` transposes as strided views, so no transpose, cat or contiguous copy runs between the
    matmuls; on Triton the interior is one autograd function that recomputes the conv output and
    delta in backward instead of saving them, and inside a block (`forward_block`) the norm and
    in_proj join it, so only the block's fp32 residual stream is saved. On the CPU (numba) a call that needs no gradient
    (scoring, prefill, embeddings) runs channel-last numba kernels on those views
    (`genomamba.ops.mamba_inner_numba`); training composes the ops, which copy to `[B, D, L]`.

    Args:
        config: a `MambaConfig` (d_model, d_state, d_conv, expand, dt_rank, dt_min, dt_max,
            dt_init_floor, scan_backend are read; "auto" picks Triton on CUDA, numba (else torch) on the CPU).
    """

    block_op = True  # `forward_block` may run the whole block as one op (a subclass with its own forward: False)

    def __init__(self, config: MambaConfig):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = config.d_model, config.d_state, config.d_conv
        self.d_inner = config.expand * config.d_model
        self.dt_rank = config.dt_rank or math.ceil(config.d_model / 16)
        self.scan_backend = config.scan_backend
        self.in_proj = nn.Linear(self.d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, self.d_conv, groups=self.d_inner, bias=True)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * self.d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.out_proj = nn.Linear(self.d_inner, self.d_model, bias=False)
        # S4D-real init: A = -(1..N) for every channel; kept as log for positivity of -A
        A = torch.arange(1, self.d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.A_log._no_weight_decay = self.D._no_weight_decay = True
        init_dt_proj(self.dt_proj, self.dt_rank, config.dt_min, config.dt_max, config.dt_init_floor)

    def allocate_state(self, batch: int, device=None, dtype=torch.float32) -> MixerState:
        """A zero state for `batch` rows, on the mixer's device unless `device` says otherwise."""
        device = self.A_log.device if device is None else device
        return MixerState(
            torch.zeros(batch, self.d_inner, self.d_conv - 1, device=device, dtype=dtype),
            torch.zeros(batch, self.d_inner, self.d_state, device=device, dtype=torch.float32),
        )

    def _inner_weights(self) -> tuple:
        """`mamba_inner`'s arguments after xz, before the states."""
        return (self.conv1d.weight, self.conv1d.bias, self.x_proj.weight, self.dt_proj.weight, self.dt_proj.bias,
                -torch.exp(self.A_log.float()), self.D, self.out_proj.weight, self.dt_rank, self.d_state)

    def forward(self, x: torch.Tensor, state: MixerState | None = None,
                seq_idx: torch.Tensor | None = None) -> tuple[torch.Tensor, MixerState]:
        """x: `[B, L, d_model]`; state from the previous chunk or None (zeros); seq_idx `[B, L]` int for
        packed sequences (conv and scan restart from zero where it changes; the state feeds the first).

        Returns the output `[B, L, d_model]` and the state after the last position (the last sequence's).
        """
        out, conv_state, ssm_state = mamba_inner(
            self.in_proj(x), *self._inner_weights(), state.conv if state is not None else None,
            state.ssm if state is not None else None, backend=self.scan_backend, seq_idx=seq_idx,
        )
        return out, MixerState(conv_state, ssm_state)

    def forward_block(self, hidden: torch.Tensor, residual: torch.Tensor | None, norm: RMSNorm,
                      state: MixerState | None = None, seq_idx: torch.Tensor | None = None,
                      ) -> tuple[torch.Tensor, torch.Tensor, MixerState]:
        """The pre-norm block around this mixer: `forward(norm(r))` with r = hidden + residual (fp32).

        Returns (output, r, state). One op (`genomamba.ops.mamba_block`): on Triton one autograd
        function that saves only r for backward. A subclass with its own `forward` (`block_op`
        False) or an in_proj that is not a plain bias-free nn.Linear (INT8) composes the norm and `forward`.
        """
        if not self.block_op or type(self.in_proj) is not nn.Linear or self.in_proj.bias is not None:
            normed, r = norm(hidden, residual, prenorm=True)
            out, state = self(normed, state, seq_idx)
            return out, r, state
        out, r, conv_state, ssm_state = mamba_block(
            hidden, residual, norm.weight, norm.eps, self.in_proj.weight, *self._inner_weights(),
            conv_state=state.conv if state is not None else None, ssm_state=state.ssm if state is not None else None,
            backend=self.scan_backend, seq_idx=seq_idx,
        )
        return out, r, MixerState(conv_state, ssm_state)

    def step(self, x: torch.Tensor, state: MixerState) -> torch.Tensor:
        """One position: x `[B, d_model]` -> `[B, d_model]`, `state` (as `allocate_state` makes it)
        updated in place, so a decode loop (or a CUDA graph of it) keeps fixed buffers.

        Gives `forward(x[:, None], state)`'s output; the interior is one fused Triton launch on CUDA
        (`genomamba.ops.mamba_step`).
        """
        return self.step_xz(self.in_proj(x), state)

    def step_xz(self, xz: torch.Tensor, state: MixerState) -> torch.Tensor:
        """`step` after in_proj: xz `[B, 2 d_inner]` (in_proj's output) -> `[B, d_model]`, for a
        decoder that computes in_proj fused with the norm before it (`genomamba.ops.add_norm_linear`)."""
        y = mamba_step(
            xz, state.conv, state.ssm, self.conv1d.weight, self.conv1d.bias, self.x_proj.weight,
            self.dt_proj.weight, self.dt_proj.bias, self.A_log, self.D, self.dt_rank, self.d_state,
            backend=self.scan_backend,
        )
        return self.out_proj(y)
