"""Bidirectional Mamba mixer (BiMamba, as in Caduceus: Schiff et al. 2024, arXiv:2403.03234).

One in_proj, conv and out_proj; two sets of SSM parameters (x_proj, dt_proj, A_log, D), one per
direction. Both scans read the same conv output and their sum is gated once by SiLU(z), through
`bidirectional_selective_scan` (fused, no flips, on CUDA). The output at t depends on the whole
sequence, so there is no carried state and no causal scoring with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from genomamba.errors import GenomambaError
from genomamba.modules.mamba import MambaMixer, MixerState, init_dt_proj
from genomamba.ops import bidirectional_selective_scan, causal_conv1d

if TYPE_CHECKING:
    from genomamba.models.config import MambaConfig


class BiMambaMixer(MambaMixer):
    """x: `[B, L, d_model]` -> `[B, L, d_model]`, mixing in both directions. Takes a `MambaConfig` as
    `MambaMixer` does; the `_b` parameters are the right-to-left direction's."""

    block_op = False  # its own forward: `forward_block` composes the norm and it

    def __init__(self, config: MambaConfig):
        super().__init__(config)
        self.x_proj_b = nn.Linear(self.d_inner, self.dt_rank + 2 * self.d_state, bias=False)
        self.dt_proj_b = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        init_dt_proj(self.dt_proj_b, self.dt_rank, config.dt_min, config.dt_max, config.dt_init_floor)
        self.A_log_b = nn.Parameter(self.A_log.detach().clone())
        self.D_b = nn.Parameter(torch.ones(self.d_inner))
        self.A_log_b._no_weight_decay = self.D_b._no_weight_decay = True

    def allocate_state(self, batch: int, device=None, dtype=torch.float32) -> MixerState:
        raise GenomambaError("a bidirectional mixer has no state to carry: score whole windows instead")

    def forward(self, x: torch.Tensor, state: MixerState | None = None,
                seq_idx: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        """x: `[B, L, d_model]` -> (`[B, L, d_model]`, None). `state` must be None. seq_idx `[B, L]` int:
        packed sequences, each mixed in both directions within itself only."""
        if state is not None:
            raise GenomambaError("a bidirectional mixer cannot continue from a carried state")
        Di = self.d_inner
        xz = self.in_proj(x)  # (B, L, 2*Di)
        xs = causal_conv1d(xz[..., :Di], self.conv1d.weight, self.conv1d.bias, backend=self.scan_backend,
                           seq_idx=seq_idx)
        z = xz[..., Di:].transpose(1, 2)  # a strided [B, Di, L] view
        dt_f, B_f, C_f = self._ssm_inputs(xs, self.x_proj, self.dt_proj)
        dt_b, B_b, C_b = self._ssm_inputs(xs, self.x_proj_b, self.dt_proj_b)
        y = bidirectional_selective_scan(
            xs.transpose(1, 2), dt_f, -torch.exp(self.A_log.float()), B_f, C_f, self.D.float(),
            self.dt_proj.bias.float(), dt_b, -torch.exp(self.A_log_b.float()), B_b, C_b, self.D_b.float(), self.dt_proj_b.bias.float(),
            z=z, delta_softplus=True, seq_idx=seq_idx, backend=self.scan_backend,
        )
        return self.out_proj(y.transpose(1, 2)), None

    def _ssm_inputs(self, xs: torch.Tensor, x_proj: nn.Linear, dt_proj: nn.Linear):
        """delta (before bias) `[B, Di, L]` and B, C `[B, N, L]` (strided views of channel-last tensors)
        from the conv output `[B, L, Di]`."""
        x_dbl = x_proj(xs)  # (B, L, dt_rank + 2N)
        dt, Bm, Cm = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = dt @ dt_proj.weight.t()  # (B, L, Di); the bias goes in as delta_bias
        return dt.transpose(1, 2), Bm.transpose(1, 2), Cm.transpose(1, 2)
