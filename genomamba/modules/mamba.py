"""Mamba mixer (Gu & Dao 2023, arXiv:2312.00752; layout of mamba_ssm/modules/mamba_simple.py).

in_proj -> depthwise causal conv1d -> SiLU -> x_proj (dt, B, C) -> dt_proj -> selective scan
(D skip, SiLU(z) gate) -> out_proj. The conv and SSM state can be passed in and returned, so a
sequence scored chunk by chunk gives the same result as one pass over the whole of it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from genomamba.ops import selective_scan


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

    Args:
        d_model: residual width. d_state: N. d_conv: causal conv width. expand: d_inner/d_model.
        dt_rank: rank of the dt projection. dt_min, dt_max, dt_init_floor: Mamba's dt init range.
        scan_backend: passed to `selective_scan` ("auto" picks Triton on CUDA, torch on CPU).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | None = None,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        scan_backend: str = "auto",
    ):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.scan_backend = scan_backend
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, bias=True)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        # S4D-real init: A = -(1..N) for every channel; kept as log for positivity of -A
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.A_log._no_weight_decay = self.D._no_weight_decay = True
        init_dt_proj(self.dt_proj, self.dt_rank, dt_min, dt_max, dt_init_floor)

    def allocate_state(self, batch: int, device=None, dtype=torch.float32) -> MixerState:
        return MixerState(
            torch.zeros(batch, self.d_inner, self.d_conv - 1, device=device, dtype=dtype),
            torch.zeros(batch, self.d_inner, self.d_state, device=device, dtype=torch.float32),
        )

    def forward(self, x: torch.Tensor, state: MixerState | None = None) -> tuple[torch.Tensor, MixerState]:
        """x: `[B, L, d_model]`; state from the previous chunk or None (zeros).

        Returns the output `[B, L, d_model]` and the state after the last position.
        """
        xs, z, conv_state = self._conv(x, state)
        dt, Bm, Cm = self._ssm_inputs(xs, self.x_proj, self.dt_proj)
        y, ssm_state = selective_scan(
            xs, dt, -torch.exp(self.A_log.float()), Bm, Cm, self.D.float(), z=z,
            delta_bias=self.dt_proj.bias.float(), delta_softplus=True,
            initial_state=state.ssm if state is not None else None, return_final_state=True,
            backend=self.scan_backend,
        )
        return self.out_proj(y.transpose(1, 2)), MixerState(conv_state, ssm_state)

    def _conv(self, x: torch.Tensor, state: MixerState | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """in_proj + causal depthwise conv + SiLU: x `[B, L, d_model]` -> (xs, z `[B, Di, L]`, conv state)."""
        Bsz = x.shape[0]
        xz = self.in_proj(x).transpose(1, 2)  # (B, L, 2*Di) -> (B, 2*Di, L)
        xs, z = xz.chunk(2, dim=1)
        prefix = state.conv.to(xs.dtype) if state is not None else xs.new_zeros(Bsz, self.d_inner, self.d_conv - 1)
        x_cat = torch.cat([prefix, xs], dim=-1)  # (B, Di, d_conv-1+L): causal padding = carried inputs
        conv_state = x_cat[..., x_cat.shape[-1] - (self.d_conv - 1):]
        xs = F.silu(F.conv1d(x_cat, self.conv1d.weight, self.conv1d.bias, groups=self.d_inner))
        return xs, z, conv_state

    def _ssm_inputs(self, xs: torch.Tensor, x_proj: nn.Linear, dt_proj: nn.Linear):
        """delta (before bias) `[B, Di, L]` and B, C `[B, N, L]` from the conv output `[B, Di, L]`."""
        x_dbl = x_proj(xs.transpose(1, 2))  # (B, L, dt_rank + 2N)
        dt, Bm, Cm = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = (dt @ dt_proj.weight.t()).transpose(1, 2)  # (B, Di, L); the bias goes in as delta_bias
        return dt, Bm.transpose(1, 2), Cm.transpose(1, 2)
