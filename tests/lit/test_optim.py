"""One optimiser setup (lit/optim.py) for every LightningModule."""

from __future__ import annotations

import torch

from genomamba.lit import PretrainLitModule, VariantEffectLitModule
from genomamba.lit.optim import OptimizerMixin, param_groups


def test_both_modules_share_one_configure_optimizers():
    assert PretrainLitModule.configure_optimizers is OptimizerMixin.configure_optimizers
    assert VariantEffectLitModule.configure_optimizers is OptimizerMixin.configure_optimizers


def test_param_groups_decay_matrices_only():
    model = torch.nn.Module()
    model.embedding, model.proj, model.norm = torch.nn.Embedding(5, 4), torch.nn.Linear(4, 3), torch.nn.LayerNorm(3)
    decay, no_decay = param_groups(model, 0.1)
    assert [p.shape for p in decay["params"]] == [torch.Size([3, 4])] and decay["weight_decay"] == 0.1
    assert len(no_decay["params"]) == 4 and no_decay["weight_decay"] == 0.0
