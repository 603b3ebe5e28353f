"""fit_gbm: wide inputs are projected on their principal components before boosting."""

import numpy as np
from sklearn.metrics import roc_auc_score

from genomamba.evaluation.baselines import fit_gbm


def test_gbm_on_wide_features_learns_through_the_projection():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(400, 1))
    x = (latent + rng.normal(size=(400, 300))).astype(np.float32)  # every column shares the latent factor
    x[:, 150:] = rng.normal(size=(400, 150))  # and half are noise
    y = (latent[:, 0] > 0).astype(int)  # so the first component carries the label
    p = fit_gbm(x[:300], y[:300], x[300:], max_iter=50, max_dims=16)
    assert p.shape == (100,) and roc_auc_score(y[300:], p) > 0.85


def test_gbm_with_fewer_rows_than_dims():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 100)), np.arange(30) % 2
    assert fit_gbm(x[:20], y[:20], x[20:], max_iter=5, max_dims=64).shape == (10,)
