"""PretrainLitModule: next-base prediction for a CharMambaLM, reported in bits per base."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import lightning as L
import torch
import torch.nn.functional as F

from genomamba.alphabet import MASK, PAD, N
from genomamba.data.packing import same_sequence_targets
from genomamba.errors import ConfigError
from genomamba.lit.bptt import (
    check_chunkable,
    chunked_grad,
    chunked_loss,
    loss_with_grads,
)
from genomamba.lit.optim import OptimizerMixin
from genomamba.models import CharMambaLM

LN2 = math.log(2.0)


def next_base_targets(
    tokens: torch.Tensor, softmask: torch.Tensor | None = None, softmask_weight: float = 1.0,
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The next-base targets tokens[:, 1:] `[B, L-1]` (long) and their loss weights (fp32): N and padding
    weigh 0, soft-masked bases `softmask_weight`, the rest 1; with seq_idx (packed records) the first
    base of a record is no target of the record before it."""
    target = tokens[:, 1:].long()
    weight = ((target != N) & (target != PAD)).float()
    if softmask is not None and softmask_weight != 1.0:
        weight = weight * torch.where(softmask[:, 1:], softmask_weight, 1.0)
    if seq_idx is not None:
        weight = weight * same_sequence_targets(seq_idx)
    return target, weight


def _weighted_nll(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none")
    return (nll * weight.reshape(-1)).sum()


def next_base_loss(
    logits: torch.Tensor, tokens: torch.Tensor, softmask: torch.Tensor | None = None, softmask_weight: float = 1.0,
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy (nats) of predicting tokens[:, 1:] from logits[:, :-1], and the count.

    Targets that are N or padding are ignored; soft-masked targets weigh `softmask_weight`.
    logits: `[B, L, V]`, tokens, softmask and seq_idx (packed records): `[B, L]`.
    """
    target, weight = next_base_targets(tokens, softmask, softmask_weight, seq_idx)
    count = weight.sum()
    return _weighted_nll(logits[:, :-1], target, weight) / count.clamp(min=1.0), count


def next_base_loss_terms(
    tokens: torch.Tensor, softmask: torch.Tensor | None = None, softmask_weight: float = 1.0,
    seq_idx: torch.Tensor | None = None,
) -> tuple[Callable[[torch.Tensor, int], torch.Tensor], torch.Tensor]:
    """`next_base_loss` as a sum of chunk terms, for `genomamba.lit.bptt`: term(logits of tokens
    [start, start + l), start) -> that chunk's share (the last position of a chunk predicts the first
    base of the next), normalised by the whole sequence's count; and the count. A chunk's targets
    and weights are made when its term is, so nothing sequence-long is kept beside the tokens."""
    count = next_base_targets(tokens, softmask, softmask_weight, seq_idx)[1].sum()
    denom = count.clamp(min=1.0)

    def term(logits: torch.Tensor, start: int) -> torch.Tensor:
        end = min(start + logits.shape[1] + 1, tokens.shape[1])  # the chunk's tokens and the next base
        sm = None if softmask is None else softmask[:, start:end]
        seq = None if seq_idx is None else seq_idx[:, start:end]
        target, weight = next_base_targets(tokens[:, start:end], sm, softmask_weight, seq)
        return _weighted_nll(logits[:, :target.shape[1]], target, weight) / denom

    return term, count


def masked_base_loss(
    model: torch.nn.Module, tokens: torch.Tensor, mask_prob: float, generator: torch.Generator | None = None,
    seq_idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked-LM cross-entropy (nats) for a bidirectional model: a `mask_prob` fraction of the
    A/C/G/T positions is replaced by the mask token and predicted from both sides. tokens: `[B, L]`."""
    target = tokens.long()
    r = torch.rand(target.shape, generator=generator, device=target.device)
    masked = (target < N) & (r < mask_prob)
    logits = model(torch.where(masked, MASK, target), seq_idx=seq_idx)
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
        backprop_chunk: tokens per chunk of exact chunked backprop through time (`genomamba.lit.bptt`):
            a sequence of any length in the memory of one chunk, the gradient that of one pass; None
            is one pass. Causal Mamba models only; validation then runs chunk by chunk too.
        backprop_truncated: with backprop_chunk, cut the gradient at chunk edges (state still carried):
            cheaper, but not the gradient of the loss.
    """

    def __init__(
        self,
        model: CharMambaLM,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        weight_decay: float = 0.1,
        softmask_weight: float = 1.0,
        mask_prob: float = 0.15,
        backprop_chunk: int | None = None,
        backprop_truncated: bool = False,
    ):
        super().__init__()
        if backprop_chunk is not None:
            if isinstance(backprop_chunk, bool) or not isinstance(backprop_chunk, int) or backprop_chunk < 1:
                raise ConfigError(f"module.backprop_chunk must be a positive integer or null, got {backprop_chunk!r}")
            check_chunkable(model)
        elif backprop_truncated:
            raise ConfigError("module.backprop_truncated=true needs module.backprop_chunk (tokens per chunk)")
        # partials are not checkpoint material (and break weights-only loading): keep them out of hparams
        self.save_hyperparameters(ignore=["model", "optimizer", "scheduler"])
        self.model = model
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self._t0 = None
        self._tokens = 0

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model(tokens)

    def _step(self, batch: dict, generator: torch.Generator | None = None,
              train: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        seq_idx = batch.get("seq_idx")  # packed records (data.pack, data.whole_records)
        if not getattr(self.model, "is_causal", True):
            return masked_base_loss(self.model, batch["tokens"], self.hparams.mask_prob, generator, seq_idx)
        tokens, chunk = batch["tokens"], self.hparams.backprop_chunk
        if chunk is None:
            return next_base_loss(self.model(tokens, seq_idx=seq_idx), tokens, batch.get("softmask"),
                                  self.hparams.softmask_weight, seq_idx)
        loss_fn, count = next_base_loss_terms(tokens, batch.get("softmask"), self.hparams.softmask_weight, seq_idx)
        if not train:
            return chunked_loss(self.model, tokens, chunk, loss_fn, seq_idx), count
        # the gradient is computed here, chunk by chunk; the returned loss's backward deposits it, so
        # Lightning's accumulation, clipping and DDP all-reduce apply as to a one-pass loss
        params = [p for p in self.model.parameters() if p.requires_grad]
        loss, grads = chunked_grad(self.model, tokens, chunk, loss_fn, params, self.hparams.backprop_truncated, seq_idx)
        return loss_with_grads(loss, params, grads), count

    def on_fit_start(self) -> None:
        if self.hparams.backprop_chunk is not None and self.trainer.precision == "16-mixed":
            raise ConfigError("module.backprop_chunk with trainer.precision=16-mixed: the chunk backwards run "
                              "without fp16 loss scaling; use bf16-mixed or 32-true")

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, count = self._step(batch, train=True)
        bs = batch["tokens"].shape[0]
        self.log("train/loss", loss, prog_bar=False, batch_size=bs)
        self.log("train/bpc", loss / LN2, prog_bar=True, batch_size=bs)
        self._tokens += int((batch["tokens"] != PAD).sum())  # real tokens: packing and padding differ
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
