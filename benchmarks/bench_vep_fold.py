"""One `vep-cv` fold's methods, timed on a synthetic matrix shaped like a real task's (CPU only).

What `genomamba.evaluation.cross_validate_heads` fits per fold, on features built like a
backbone's (`VariantEffectModel.features`: ref, alt and alt - ref, 2 * d_model columns each, so a
third of the columns is an exact linear combination of the rest; ref and alt are nearly equal,
with a power-law spectrum), labels from a noisy logistic rule on a few latent directions, and
random one-hot ref/alt contexts for the context baselines:

    python benchmarks/bench_vep_fold.py                     # 16,000 train x 1,536, 4,000 test, 2 threads
    python benchmarks/bench_vep_fold.py --train 2000 --test 500 --methods logreg,mlp_head

Prints one markdown row per method: seconds and the test AUROC (the AUROC shows that a faster
fit still measures the same thing).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

METHODS = ("logreg", "gbm", "mlp_head", "context_k3", "context_k10")


def synthetic_fold(n_train: int, n_test: int, d_model: int = 256, alpha: float = 0.5, seed: int = 0):
    """(x_train, y_train, x_test, y_test, {k: (c_train, c_test)}): float32 features `[n, 6 * d_model]`.

    ref (2 * d_model columns) has a power-law spectrum (the k-th principal axis's sd is
    k^-alpha, as language-model embeddings have: ill-conditioned, which is what makes an
    iterative solver slow); alt = ref + a small effect in the same basis; then alt - ref. The
    label is a noisy logistic rule on the effect's and ref's leading axes. At 2,500 rows the
    logistic regression's L-BFGS takes 200 iterations at alpha 0.5 and 537 at alpha 1; on
    bacteria-small's features of 2,500 E. coli variants (window 64) it took 90: alpha 0.5 is, if
    anything, harder than a real backbone's features.
    """
    rng = np.random.default_rng(seed)
    n, half = n_train + n_test, 2 * d_model
    basis = np.linalg.qr(rng.standard_normal((half, half)))[0].astype(np.float32)
    sd = (1.0 + np.arange(half, dtype=np.float32)) ** -alpha
    z = rng.standard_normal((n, half)).astype(np.float32) * sd
    effect = rng.standard_normal((n, half)).astype(np.float32) * sd
    ref = z @ basis
    alt = ref + 0.05 * effect @ basis
    x = np.concatenate([ref, alt, alt - ref], axis=1)
    logit = 1.5 * effect[:, 0] / sd[0] - effect[:, 3] / sd[3] + 0.5 * z[:, 1] / sd[1] - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    contexts = {}
    for k in (3, 10):
        span = 2 * k + 1
        bases = rng.integers(0, 4, (n, 2, span))
        c = np.zeros((n, 2, span, 4), dtype=np.float32)
        np.put_along_axis(c, bases[..., None], 1.0, axis=-1)
        contexts[k] = c.reshape(n, -1)
    tr, te = slice(0, n_train), slice(n_train, n)
    return x[tr], y[tr], x[te], y[te], {k: (c[tr], c[te]) for k, c in contexts.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", type=int, default=16_000)
    p.add_argument("--test", type=int, default=4_000)
    p.add_argument("--d-model", type=int, default=256, help="features are 6 * d_model wide (default 1,536)")
    p.add_argument("--alpha", type=float, default=0.5, help="power-law exponent of the features' spectrum")
    p.add_argument("--threads", type=int, default=2, help="BLAS, OpenMP and torch threads")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}")
    p.add_argument("--head-epochs", type=int, default=30)
    p.add_argument("--head-early-stopping-min", type=lambda v: None if v.lower() == "none" else int(v), default=10_000,
                   help="train rows from which the MLP head stops early on 10%% held out ('none': always all epochs, "
                        "the loop before early stopping existed)")
    p.add_argument("--gbm-iter", type=int, default=200)
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    from genomamba.evaluation import fit_gbm, fit_logreg
    from genomamba.evaluation.heads import train_head_on_features
    from genomamba.evaluation.metrics import binary_metrics

    torch.set_num_threads(args.threads)
    xtr, ytr, xte, yte, ctx = synthetic_fold(args.train, args.test, args.d_model, args.alpha)
    fits = {
        "logreg": lambda: fit_logreg(xtr, ytr, xte, 0),
        "gbm": lambda: fit_gbm(xtr, ytr, xte, args.gbm_iter, 0),
        "mlp_head": lambda: train_head_on_features(xtr, ytr, xte, epochs=args.head_epochs, seed=0,
                                                   early_stopping_min=args.head_early_stopping_min),
        "context_k3": lambda: fit_logreg(ctx[3][0], ytr, ctx[3][1], 0),
        "context_k10": lambda: fit_logreg(ctx[10][0], ytr, ctx[10][1], 0),
    }
    print(f"train {xtr.shape}, test {xte.shape}, positives {ytr.mean():.2f}, {args.threads} threads\n")
    print("| method | seconds | test AUROC |\n| --- | --- | --- |", flush=True)
    rows = []
    with threadpool_limits(args.threads):
        for m in (m for m in args.methods.split(",") if m):
            t0 = time.perf_counter()
            score = fits[m]()
            dt = time.perf_counter() - t0
            auroc = binary_metrics(yte, score)["auroc"]
            rows.append({"method": m, "seconds": dt, "auroc": auroc})
            print(f"| {m} | {dt:.2f} | {auroc:.4f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"train": args.train, "test": args.test, "threads": args.threads, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
