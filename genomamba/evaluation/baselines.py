"""Baselines beside the language model, fitted per fold: scikit-learn logistic regression
(standardised inputs) and histogram gradient boosting, both with balanced classes, on any
feature matrix; and the sequence-only input they are compared on, the one-hot ref/alt context of
+-k bp (`context_onehot`): what a model that never saw a genome learns from the site alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genomamba.data.labelled_variants import LabelledVariant
from genomamba.io.fasta import GenomeSet

__all__ = ["fit_logreg", "fit_gbm", "context_onehot"]

_BASES = np.full(256, -1, dtype=np.int64)
for _i, _b in enumerate("ACGT"):
    _BASES[ord(_b)] = _BASES[ord(_b.lower())] = _i


def fit_logreg(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int = 0) -> np.ndarray:
    """Standardise, fit a balanced logistic regression; P(class 1) of `x_test`, `[n_test]`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed))
    return clf.fit(x_train, y_train).predict_proba(x_test)[:, 1]


def fit_gbm(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, max_iter: int = 200, seed: int = 0,
            max_dims: int | None = 64) -> np.ndarray:
    """Fit balanced histogram gradient boosting (`max_iter` trees; past 10,000 rows, early stopping
    on 10% of the training fold); P(class 1) of `x_test`, `[n_test]`.

    Inputs wider than `max_dims` are first standardised and projected on their top `max_dims`
    principal components (fitted on the training fold): boosting's cost grows with the width, and
    on a backbone's 6 x d_model features (1,536 at d_model 256), 5 trees on 2,000 rows took 1.6 s on
    one CPU core, so 200 trees over 40,000 variants come to tens of minutes a fold; None keeps every column.
    """
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    gbm = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, class_weight="balanced",
                                         n_iter_no_change=20, random_state=seed)  # early stopping past 10,000 rows
    dims = min(max_dims or x_train.shape[1], x_train.shape[0])
    steps = [StandardScaler(), PCA(dims, random_state=seed)] if dims < x_train.shape[1] else []
    clf = make_pipeline(*steps, gbm)
    return clf.fit(x_train, y_train).predict_proba(x_test)[:, 1]


def context_onehot(genome: GenomeSet, variants: Sequence[LabelledVariant], k: int) -> np.ndarray:
    """One-hot ref and alt context of +-k bp around each variant: float32 `[n, 2 * 4 * (2k + 1)]`.

    The ref context is the 2k + 1 reference bases from `start - k`; the alt context is the same
    span of the alt haplotype (k bases before, then ALT and the bases after REF), so an indel
    shifts its right flank as it does in the genome. A, C, G, T are one column each (case
    ignored); N and bases past a contig end are all zeros.
    """
    if k < 0:
        raise ValueError(f"context k must be >= 0, got {k}")
    span = 2 * k + 1
    out = np.zeros((len(variants), 2, span, 4), dtype=np.float32)
    lengths = genome.lengths
    for i, v in enumerate(variants):
        n = lengths[v.chrom]
        lo, end = max(v.start - k, 0), v.start + len(v.ref)
        left = "N" * (k - (v.start - lo)) + genome.fetch(v.chrom, lo, v.start)
        ref = left + genome.fetch(v.chrom, v.start, min(v.start + k + 1, n))
        alt = left + v.alt + genome.fetch(v.chrom, min(end, n), min(end + k + 1, n))
        for h, seq in enumerate((ref, alt)):
            idx = _BASES[np.frombuffer(seq[:span].encode("ascii"), dtype=np.uint8)]
            pos = np.flatnonzero(idx >= 0)
            out[i, h, pos, idx[pos]] = 1.0
    return out.reshape(len(variants), -1)
