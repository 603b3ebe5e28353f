"""VariantEffectLitModule: class-weighted cross-entropy training of a VariantEffectModel.

Logs `train/loss`, `train/acc` per step and `val/loss`, `val/acc`, `val/auroc`, `val/auprc` per
epoch. AUROC/AUPRC (scikit-learn) are computed over the whole validation fold: binary on P(class
1); multi-class as the macro average of one-vs-rest over classes present in the fold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from genomamba.errors import ConfigError
from genomamba.lit.optim import OptimizerMixin
from genomamba.models.variant_effect import VariantEffectModel

__all__ = ["VariantEffectLitModule", "classification_metrics"]

INPUT_KEYS = ("ref", "alt", "ref_pos", "alt_pos")


def classification_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """{"auroc", "auprc", "acc"} of class probabilities `[n, C]` against labels `[n]`.

    AUROC/AUPRC are NaN when the labels hold a single class (undefined, not 0.5).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    out = {"acc": float((probs.argmax(1) == labels).mean()) if len(labels) else math.nan}
    present = np.unique(labels)
    if len(present) < 2:
        return {**out, "auroc": math.nan, "auprc": math.nan}
    if probs.shape[1] == 2:
        return {**out, "auroc": float(roc_auc_score(labels, probs[:, 1])),
                "auprc": float(average_precision_score(labels, probs[:, 1]))}
    aurocs, auprcs = [], []
    for c in present:  # one-vs-rest, macro over classes present
        y = (labels == c).astype(np.int64)
        aurocs.append(roc_auc_score(y, probs[:, c]))
        auprcs.append(average_precision_score(y, probs[:, c]))
    return {**out, "auroc": float(np.mean(aurocs)), "auprc": float(np.mean(auprcs))}


class VariantEffectLitModule(OptimizerMixin, L.LightningModule):
    """Owns loss, metrics and optimisation of an injected VariantEffectModel.

    Args:
        model: the head (with its backbone; `freeze` already applied).
        optimizer: partial taking param groups (only parameters that train).
        scheduler: partial taking (optimizer, total_steps), stepped every step; optional.
        weight_decay: on matrices only.
        class_weights: "auto" (the datamodule's `class_weights`, from the training split), a list
            of C floats, or None (unweighted).
        label_smoothing: passed to the cross-entropy.
    """

    def __init__(
        self,
        model: VariantEffectModel,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        weight_decay: float = 0.01,
        class_weights: str | Sequence[float] | None = "auto",
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        # partials are not checkpoint material (and break weights-only loading): keep them out of hparams
        self.save_hyperparameters(ignore=["model", "optimizer", "scheduler"])
        self.model = model
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        num_classes = model.config.num_classes if hasattr(model, "config") and hasattr(model.config, "num_classes") else 2
        weights = torch.ones(num_classes)
        if class_weights not in (None, "auto"):
            if len(class_weights) != num_classes:
                raise ConfigError(f"module.class_weights has {len(class_weights)} entries for {num_classes} classes")
            weights = torch.tensor([float(w) for w in class_weights])
        self.register_buffer("class_weight", weights)
        self._val_probs: list[torch.Tensor] = []
        self._val_labels: list[torch.Tensor] = []

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(*(batch[k] for k in INPUT_KEYS))

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        n_model = self.model.config.num_classes
        if dm is not None and getattr(dm, "num_classes", n_model) != n_model:
            raise ConfigError(
                f"the data has {dm.num_classes} classes ({dm.class_names}) but model.config.num_classes is {n_model}"
            )
        if self.hparams.class_weights == "auto" and dm is not None and getattr(dm, "class_weights", None) is not None:
            self.class_weight.copy_(torch.tensor(dm.class_weights, dtype=self.class_weight.dtype))

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels, weight=self.class_weight,
                               label_smoothing=self.hparams.label_smoothing)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        logits = self(batch)
        loss = self._loss(logits, batch["label"])
        bs = batch["label"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        self.log("train/acc", (logits.argmax(-1) == batch["label"]).float().mean(), batch_size=bs)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits = self(batch)
        self.log("val/loss", self._loss(logits, batch["label"]), batch_size=batch["label"].shape[0])
        self._val_probs.append(torch.softmax(logits.float(), -1).detach().cpu())
        self._val_labels.append(batch["label"].detach().cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_labels:
            return
        probs = torch.cat(self._val_probs).numpy()
        labels = torch.cat(self._val_labels).numpy()
        self._val_probs, self._val_labels = [], []
        m = classification_metrics(labels, probs)
        # every rank scored the whole fold (see VariantDataModule.val_dataloader): no sync needed
        self.log("val/acc", m["acc"])
        self.log("val/auroc", m["auroc"], prog_bar=True)
        self.log("val/auprc", m["auprc"])
