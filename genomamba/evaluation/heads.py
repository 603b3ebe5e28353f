"""The variant-effect MLP head trained on cached frozen features by a plain torch loop: the same
head (`make_mlp`) and class-weighted cross-entropy as `VariantEffectLitModule` with freeze=all,
minus the backbone passes that would give the same features every epoch."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from genomamba.data.labelled_variants import class_weights
from genomamba.models.variant_effect import HeadConfig, make_mlp

__all__ = ["train_head_on_features"]


def train_head_on_features(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, *, epochs: int = 30, lr: float = 1e-3,
    batch_size: int = 64, weight_decay: float = 0.01, seed: int = 0, device: str | torch.device = "cpu",
) -> np.ndarray:
    """Train a fresh binary `make_mlp` head (AdamW) on features `[n, F]`; P(class 1) of `x_test`, `[n_test]`."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = make_mlp(x_train.shape[1], HeadConfig(num_classes=2)).to(device)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    w = torch.tensor(class_weights(y_train, 2), dtype=torch.float32, device=device)
    xt = torch.from_numpy(x_train).float().to(device)
    yt = torch.from_numpy(y_train).long().to(device)
    head.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g).to(device)
        for i in range(0, len(xt), batch_size):
            idx = perm[i : i + batch_size]
            loss = F.cross_entropy(head(xt[idx]), yt[idx], weight=w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    head.eval()
    with torch.inference_mode():
        return torch.softmax(head(torch.from_numpy(x_test).float().to(device)), -1)[:, 1].double().cpu().numpy()
