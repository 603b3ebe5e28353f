"""`genomamba-score vep-cv`: position-blocked cross-validation of variant-effect predictors.

    genomamba-score vep-cv MODEL_DIR ref.fa variants.vcf --label LABEL --positive 1 [--negative 0]
        --folds 5 --block-size 10000 -o outdir [--markov MARKOV_DIR] [--finetune-epochs 30]
        [--window 256] [--bed blocks.bed] [--limit N] [--device cpu|cuda]

Variants (binary: `--positive` label values vs `--negative` values, or vs everything else) are
assigned to folds by whole position blocks (`genomamba.data.splits`: no train and test variant
share a block). The backbone's features (`VariantEffectModel.features`: ref, alt and alt - ref,
pooled at the site and over the window, both strands) are extracted once for all variants: the
backbone is frozen, so they do not depend on the fold. Then, per held-out fold, side by side:

    logreg       scikit-learn logistic regression on standardised features (balanced classes)
    gbm          scikit-learn histogram gradient boosting on the same features (balanced classes)
    mlp_head     the VariantEffectModel MLP head, trained `--finetune-epochs` epochs with AdamW and
                 class-weighted cross-entropy by a plain torch loop on the cached features (the
                 same loss and head as `VariantEffectLitModule` with freeze=all, minus the
                 backbone passes that would give the same features every epoch)
    zeroshot_*   -GM_LLR and -GM_DELTA of the model (and of the Markov baseline with `--markov`)
                 from `genomamba.scoring.variants` (negated: a less likely ALT scores higher),
                 evaluated on the same held-out folds; no training

Outputs in `-o`: metrics.json (per fold and mean ± sd AUROC/AUPRC, counts, the command),
metrics.md (the table), roc.png (ROC of out-of-fold predictions pooled over folds) and
predictions.tsv (every variant's fold and out-of-fold score per method). Written atomically.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from genomamba.atomic import atomic_path, atomic_write_text

__all__ = ["register", "run", "vep_cv", "METHOD_LABELS"]

METHOD_LABELS = {
    "logreg": "logistic regression (frozen features)",
    "gbm": "gradient boosting (frozen features)",
    "mlp_head": "MLP head (frozen features)",
    "zeroshot_llr": "zero-shot -GM_LLR",
    "zeroshot_delta": "zero-shot -GM_DELTA",
    "markov_llr": "Markov zero-shot -GM_LLR",
    "markov_delta": "Markov zero-shot -GM_DELTA",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `vep-cv` subcommand to a `genomamba-score` parser."""
    p = subparsers.add_parser(
        "vep-cv",
        help="position-blocked k-fold CV: heads and sklearn baselines on frozen features vs zero-shot scores",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model_dir", help="CharMambaLM model directory (the frozen backbone)")
    p.add_argument("reference", help="reference FASTA (plain, bgzip or gzip)")
    p.add_argument("variants", help="labelled VCF (label in INFO) or TSV (label column)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--label", required=True, help="INFO key (VCF) or column (TSV) of the label")
    p.add_argument("--positive", required=True, help="comma-separated label values of the positive class")
    p.add_argument("--negative", default=None, help="comma-separated values of the negative class (default: all others)")
    p.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    p.add_argument("--block-size", type=int, default=10_000, help="position block size in bp (default 10000)")
    p.add_argument("--bed", default=None, help="BED of blocks (variants outside fall back to --block-size bins)")
    p.add_argument("--window", type=int, default=256, help="window W in bp for features and zero-shot scores (default 256)")
    p.add_argument("--strands", choices=("forward", "both"), default="both", help="average over both strands (default)")
    p.add_argument("--markov", default=None, help="Markov model directory: add its zero-shot scores")
    p.add_argument("--finetune-epochs", type=int, default=30,
                   help="epochs of MLP-head training on the cached frozen features (0: skip the head)")
    p.add_argument("--head-lr", type=float, default=1e-3, help="MLP head learning rate (AdamW)")
    p.add_argument("--batch-size", type=int, default=32, help="variants per forward call")
    p.add_argument("--limit", type=int, default=None, help="random subset of N labelled variants (smoke tests)")
    p.add_argument("--seed", type=int, default=0, help="fold assignment, subsets and training (default 0)")
    p.add_argument("--on-ref-mismatch", choices=("error", "skip"), default="error",
                   help="a REF that disagrees with the FASTA: stop, or skip and count it")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--gbm-iter", type=int, default=200, help="boosting iterations (0: skip gradient boosting)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `vep_cv` from parsed arguments; prints the table; returns the exit status."""
    from genomamba.errors import GenomambaError

    split = lambda s: [v for v in s.split(",") if v] if s else None  # noqa: E731
    try:
        result = vep_cv(
            args.model_dir, args.reference, args.variants, args.output,
            label_key=args.label, positive=split(args.positive), negative=split(args.negative),
            folds=args.folds, block_size=args.block_size, bed=args.bed, window=args.window,
            strands=args.strands, markov_dir=args.markov, head_epochs=args.finetune_epochs,
            head_lr=args.head_lr, batch_size=args.batch_size, limit=args.limit, seed=args.seed,
            on_ref_mismatch=args.on_ref_mismatch, device=args.device, gbm_iter=args.gbm_iter,
            command=" ".join(shlex.quote(a) for a in ["genomamba-score", "vep-cv", *sys.argv[2:]]),
        )
    except (GenomambaError, FileNotFoundError) as e:
        print(f"genomamba-score vep-cv: error: {e}", file=sys.stderr)
        return 1
    print(result["table"])
    print(f"wrote {args.output}/metrics.json, metrics.md, roc.png, predictions.tsv", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# The work
# --------------------------------------------------------------------------------------------


def vep_cv(
    model_dir: str | Path,
    reference: str | Path,
    variants: str | Path,
    output: str | Path,
    *,
    label_key: str,
    positive: list[str],
    negative: list[str] | None = None,
    folds: int = 5,
    block_size: int | None = 10_000,
    bed: str | None = None,
    window: int = 256,
    strands: str = "both",
    markov_dir: str | Path | None = None,
    head_epochs: int = 30,
    head_lr: float = 1e-3,
    batch_size: int = 32,
    limit: int | None = None,
    seed: int = 0,
    on_ref_mismatch: str = "error",
    device: str | None = None,
    gbm_iter: int = 200,
    command: str | None = None,
) -> dict:
    """Blocked k-fold CV of frozen-feature classifiers and zero-shot scores (see the module docstring).

    Returns:
        {"folds": per-fold metrics, "summary": {method: {auroc_mean, auroc_sd, auprc_mean,
        auprc_sd, auroc_pooled}}, "table": the markdown table, "features": `[n, F]` array,
        "labels": `[n]`, "fold_of": `[n]`, "oof": {method: `[n]` out-of-fold scores}}.

    Raises:
        GenomambaError: bad inputs (named), e.g. a Markov model as MODEL_DIR or too few blocks.
    """
    import torch

    from genomamba.data.splits import assign_folds, fold_indices
    from genomamba.device import resolve_device
    from genomamba.data.variants import label_mapping, read_labelled_variants
    from genomamba.errors import ConfigError
    from genomamba.io.fasta import GenomeSet
    from genomamba.models.lm import CharMambaLM
    from genomamba.models.loading import load_model

    t0 = time.perf_counter()
    device = resolve_device(device)
    genome = GenomeSet([reference])
    mapping, class_names, _ = label_mapping(positive=positive, negative=negative)
    labelled, stats = read_labelled_variants(variants, label_key, mapping, genome, on_ref_mismatch, class_names)
    if limit is not None and limit < len(labelled):
        keep = np.sort(np.random.default_rng(seed).choice(len(labelled), limit, replace=False))
        labelled = [labelled[i] for i in keep]
    y = np.array([v.label for v in labelled], dtype=np.int64)
    if len(np.unique(y)) < 2:
        raise ConfigError(f"{variants}: need both classes, got {stats.summary()}")
    fold_of = assign_folds([v.chrom for v in labelled], [v.start for v in labelled], folds, block_size, bed, seed)

    backbone = load_model(model_dir, device=device)
    if not isinstance(backbone, CharMambaLM):
        raise ConfigError(f"{model_dir}: vep-cv needs a CharMambaLM backbone (give a Markov model with --markov)")
    feats = extract_features(backbone, genome, labelled, window, strands, batch_size, device)

    scores: dict[str, np.ndarray] = {}
    for prefix, mdir in (("zeroshot", None), ("markov", markov_dir)):
        if prefix == "markov" and mdir is None:
            continue
        lm = backbone if mdir is None else load_model(mdir, device=device)
        llr, delta = zero_shot(lm, genome, labelled, window, strands, batch_size, device)
        scores[f"{prefix}_llr"], scores[f"{prefix}_delta"] = -llr, -delta

    methods = ["logreg"] + (["gbm"] if gbm_iter > 0 else []) + (["mlp_head"] if head_epochs > 0 else []) + list(scores)
    oof = {m: np.full(len(y), np.nan) for m in methods}
    per_fold = []
    for f in range(folds):
        tr, te = fold_indices(fold_of, f)
        row = {"fold": f, "n_train": int(len(tr)), "n_test": int(len(te)), "n_test_positive": int(y[te].sum())}
        if len(np.unique(y[tr])) < 2:
            raise ConfigError(f"fold {f}: the training split has a single class; use fewer folds or smaller blocks")
        oof["logreg"][te] = _fit_logreg(feats[tr], y[tr], feats[te], seed)
        if gbm_iter > 0:
            oof["gbm"][te] = _fit_gbm(feats[tr], y[tr], feats[te], gbm_iter, seed)
        if head_epochs > 0:
            oof["mlp_head"][te] = train_head_on_features(
                feats[tr], y[tr], feats[te], epochs=head_epochs, lr=head_lr, seed=seed + f, device=device
            )
        for m, s in scores.items():
            oof[m][te] = s[te]
        row["methods"] = {m: binary_metrics(y[te], oof[m][te]) for m in methods}
        per_fold.append(row)

    summary = {}
    for m in methods:
        au = np.array([r["methods"][m]["auroc"] for r in per_fold])
        ap = np.array([r["methods"][m]["auprc"] for r in per_fold])
        pooled = binary_metrics(y, oof[m])
        summary[m] = {"auroc_mean": _nanmean(au), "auroc_sd": _nansd(au), "auprc_mean": _nanmean(ap),
                      "auprc_sd": _nansd(ap), "auroc_pooled": pooled["auroc"], "auprc_pooled": pooled["auprc"]}
    table = markdown_table(summary, len(y), int(y.sum()), folds)
    result = {
        "command": command,
        "model_dir": str(model_dir), "reference": str(reference), "variants": str(variants),
        "markov_dir": str(markov_dir) if markov_dir else None,
        "label_key": label_key, "classes": class_names, "read": stats.summary(),
        "n_variants": int(len(y)), "n_positive": int(y.sum()), "folds": per_fold, "summary": summary,
        "settings": {"folds": folds, "block_size": block_size, "bed": bed, "window": window, "strands": strands,
                     "head_epochs": head_epochs, "head_lr": head_lr, "gbm_iter": gbm_iter, "limit": limit, "seed": seed,
                     "feature_dim": int(feats.shape[1]), "device": str(device)},
        "seconds": time.perf_counter() - t0,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    _write_outputs(Path(output), result, table, labelled, y, fold_of, oof)
    genome.close()
    return {**result, "table": table, "features": feats, "labels": y, "fold_of": fold_of, "oof": oof}


def extract_features(backbone, genome, labelled, window: int, strands: str, batch_size: int, device) -> np.ndarray:
    """Frozen `VariantEffectModel.features` of every variant: float32 `[n, 6 * d_model]`."""
    import torch

    from genomamba.data.variant_windows import collate_inputs, variant_inputs
    from genomamba.models.variant_effect import HeadConfig, VariantEffectModel

    model = VariantEffectModel(backbone, HeadConfig(window=window, strands=strands, freeze="all")).to(device).eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(labelled), batch_size):
            items = [variant_inputs(genome, v.chrom, v.start, v.ref, v.alt, window) for v in labelled[i : i + batch_size]]
            b = collate_inputs(items)
            out.append(model.features(*(b[k].to(device) for k in ("ref", "alt", "ref_pos", "alt_pos"))).float().cpu().numpy())
    return np.concatenate(out)


def zero_shot(lm, genome, labelled, window: int, strands: str, batch_size: int, device) -> tuple[np.ndarray, np.ndarray]:
    """GM_LLR and GM_DELTA (nats) of every variant under `lm` (`VariantScorer`)."""
    from genomamba.io.vcf import VariantRecord
    from genomamba.scoring.variants import VariantScorer

    scorer = VariantScorer(lm, genome, window=window, strands=strands, batch_size=batch_size, device=device,
                           rules=["GM_LLR", "GM_DELTA"])
    recs = (VariantRecord(v.chrom, v.start, v.ref, [v.alt], v.source, v.line, []) for v in labelled)
    llr, delta = [], []
    for rec in scorer.score(recs):
        llr.append(_float(rec.info.get("GM_LLR")))
        delta.append(_float(rec.info.get("GM_DELTA")))
    return np.array(llr), np.array(delta)


def train_head_on_features(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, *, epochs: int = 30, lr: float = 1e-3,
    batch_size: int = 64, weight_decay: float = 0.01, seed: int = 0, device="cpu",
) -> np.ndarray:
    """Train a fresh `make_mlp` head (binary) on cached features; P(class 1) of `x_test` `[n_test]`."""
    import torch
    import torch.nn.functional as F

    from genomamba.data.variants import class_weights
    from genomamba.models.variant_effect import HeadConfig, make_mlp

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


def _fit_logreg(x_train, y_train, x_test, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed))
    return clf.fit(x_train, y_train).predict_proba(x_test)[:, 1]


def _fit_gbm(x_train, y_train, x_test, max_iter: int, seed: int) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier

    clf = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, class_weight="balanced", random_state=seed)
    return clf.fit(x_train, y_train).predict_proba(x_test)[:, 1]


def binary_metrics(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """AUROC and AUPRC of `score` (higher = positive); NaN scores are dropped; NaN if one class."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    ok = np.isfinite(score)
    y, score = y[ok], score[ok]
    if len(np.unique(y)) < 2:
        return {"auroc": math.nan, "auprc": math.nan, "n": int(len(y))}
    return {"auroc": float(roc_auc_score(y, score)), "auprc": float(average_precision_score(y, score)), "n": int(len(y))}


def markdown_table(summary: dict, n: int, n_pos: int, folds: int) -> str:
    lines = [
        f"{n} variants ({n_pos} positive), {folds}-fold position-blocked CV; mean ± sd over folds",
        "",
        "| method | AUROC | AUPRC | pooled AUROC |",
        "| --- | --- | --- | --- |",
    ]
    for m, s in summary.items():
        lines.append(f"| {METHOD_LABELS.get(m, m)} | {_pm(s['auroc_mean'], s['auroc_sd'])} | "
                     f"{_pm(s['auprc_mean'], s['auprc_sd'])} | {_num(s['auroc_pooled'])} |")
    return "\n".join(lines) + "\n"


def _write_outputs(out: Path, result: dict, table: str, labelled, y, fold_of, oof) -> None:
    out.mkdir(parents=True, exist_ok=True)
    methods = list(oof)
    rows = ["\t".join(["chrom", "pos", "ref", "alt", "label", "fold", *methods])]
    for i, v in enumerate(labelled):
        rows.append("\t".join([v.chrom, str(v.start + 1), v.ref, v.alt, str(int(y[i])), str(int(fold_of[i])),
                               *(_num(oof[m][i], 6) for m in methods)]))
    atomic_write_text(out / "predictions.tsv", "\n".join(rows) + "\n")
    atomic_write_text(out / "metrics.json", json.dumps(_jsonable(result), indent=2) + "\n")
    atomic_write_text(out / "metrics.md", table)
    _roc_png(out / "roc.png", y, oof, result["summary"])


def _roc_png(path: Path, y: np.ndarray, oof: dict, summary: dict) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_curve

    fig = Figure(figsize=(5.5, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for m, s in oof.items():
        ok = np.isfinite(s)
        if len(np.unique(y[ok])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[ok], s[ok])
        ax.plot(fpr, tpr, lw=1.5, label=f"{METHOD_LABELS.get(m, m)} ({_num(summary[m]['auroc_pooled'])})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, out-of-fold (pooled AUROC)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None  # JSON has no NaN
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    return x


def _float(v: str | None) -> float:
    try:
        return float(v) if v not in (None, ".") else math.nan
    except ValueError:
        return math.nan


def _nanmean(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else math.nan


def _nansd(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.std(ddof=1)) if len(a) > 1 else math.nan


def _num(v: float, digits: int = 3) -> str:
    return "." if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _pm(mean: float, sd: float) -> str:
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.3f} ± {sd:.3f}" if math.isfinite(sd) else f"{mean:.3f}"
