"""The one optimiser setup of every LightningModule here: AdamW-style param groups (decay on
matrices only) and an optional per-step LR schedule over the run's total steps."""

from __future__ import annotations

import math

import torch

__all__ = ["OptimizerMixin", "param_groups"]


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices only: no decay on biases, norms, embeddings, A_log and D."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.dim() < 2 or getattr(p, "_no_weight_decay", False) or "embedding" in name
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class OptimizerMixin:
    """`configure_optimizers` for a LightningModule with `self.model`, `self.optimizer_factory`,
    `self.scheduler_factory` (or None) and `hparams.weight_decay`. The schedule's total is
    `trainer.max_steps` when set, else Lightning's estimate of the run's steps (epoch-based runs)."""

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(param_groups(self.model, self.hparams.weight_decay))
        if self.scheduler_factory is None:
            return optimizer
        total = self.trainer.max_steps
        if not total or total < 0:
            total = self.trainer.estimated_stepping_batches
        total = int(total) if total and math.isfinite(total) else 10_000
        scheduler = self.scheduler_factory(optimizer, total_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
