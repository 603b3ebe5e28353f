"""PretrainLitModule: next-base prediction for a CharMambaLM, reported in bits per base."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import lightning as L
import torch
import torch.nn.functional as F

from genomamba.alphabet import MASK, PAD, N
from genomamba.lit.optim import OptimizerMixin
from genomamba.models import CharMambaLM

LN2 = math.log(2.0)


def next_base_loss(
    logits: torch.Tensor, tokens: torch.Tensor, softmask: torch.Tensor | None = None, softmask_weight: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy (nats) of predicting tokens[:, 1:] from logits[:, :-1], and the count.

    Targets that are N or padding are ignored; soft-masked targets weigh `softmask_weight`.
    logits: `[B, L, V]`, tokens and softmask: `[B, L]`.
    """
    target = tokens[:, 1:].long()
    weight = ((target != N) & (target != PAD)).float()
    if softmask is not None and softmask_weight != 1.0:
        weight = weight * torch.where(softmask[:, 1:], softmask_weight, 1.0)
    nll = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none")
    count = weight.sum()
    return (nll * weight.reshape(-1)).sum() / count.clamp(min=1.0), count


def masked_base_loss(
    model: torch.nn.Module, tokens: torch.Tensor, mask_prob: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked-LM cross-entropy (nats) for a bidirectional model: a `mask_prob` fraction of the
    A/C/G/T positions is replaced by the mask token and predicted from both sides. tokens: `[B, L]`."""
    target = tokens.long()
    r = torch.rand(target.shape, generator=generator, device=target.device)
    masked = (target < N) & (r < mask_prob)
    logits = model(torch.where(masked, MASK, target))
    count = masked.sum()
    if not count:
        return logits.sum() * 0.0, count.float()
    return F.cross_entropy(logits[masked].float(), target[masked]), count.float()


class PretrainLitModule(OptimizerMixin, L.LightningModule):
    """Owns loss, metrics and optimisation of an injected CharMambaLM: next-base prediction for a
    causal model, masked-base prediction for a bidirectional one (`val/bpc` is then bits per
    masked base).

    Args:
        model: the network. optimizer: partial taking param groups (e.g. AdamW).
        scheduler: partial taking (optimizer, total_steps) -> LR scheduler, stepped every step.
        weight_decay: applied to matrices only. softmask_weight: loss weight of lowercase bases.
        mask_prob: fraction of bases masked per window (bidirectional models only).
    """

    def __init__(
        self,
        model: CharMambaLM,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        weight_decay: float = 0.1,
        softmask_weight: float = 1.0,
        mask_prob: float = 0.15,
    ):
        super().__init__()
        # partials are not checkpoint material (and break weights-only loading): keep them out of hparams
        self.save_hyperparameters(ignore=["model", "optimizer", "scheduler"])
        self.model = model
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self._t0 = None
        self._tokens = 0

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model(tokens)

    def _step(self, batch: dict, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if not getattr(self.model, "is_causal", True):
            return masked_base_loss(self.model, batch["tokens"], self.hparams.mask_prob, generator)
        logits = self.model(batch["tokens"])
        return next_base_loss(logits, batch["tokens"], batch.get("softmask"), self.hparams.softmask_weight)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, count = self._step(batch)
        bs = batch["tokens"].shape[0]
        self.log("train/loss", loss, prog_bar=False, batch_size=bs)
        self.log("train/bpc", loss / LN2, prog_bar=True, batch_size=bs)
        self._tokens += batch["tokens"].numel()
        if self._t0 is None:
            self._t0 = time.perf_counter()
        elif self.global_step % 10 == 0:
            self.log("train/tokens_per_s", self._tokens / (time.perf_counter() - self._t0), prog_bar=True, batch_size=bs)
        return loss

    def on_train_epoch_start(self) -> None:
        self._t0, self._tokens = None, 0

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        # the same masked positions at every validation, so the figure is comparable across epochs
        generator = torch.Generator(device=batch["tokens"].device).manual_seed(batch_idx)
        loss, count = self._step(batch, generator)
        # weight by scored bases, so the epoch value is bits per scored base over all windows
        self.log("val/loss", loss, batch_size=max(1, int(count)), sync_dist=True)
        self.log("val/bpc", loss / LN2, prog_bar=True, batch_size=max(1, int(count)), sync_dist=True)
