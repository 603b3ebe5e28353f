"""`genomamba-score vep-cv`: position-blocked cross-validation of variant-effect predictors.

    genomamba-score vep-cv MODEL_DIR ref.fa variants.vcf --label LABEL --positive 1 [--negative 0]
        --folds 5 --block-size 10000 -o outdir [--markov MARKOV_DIR] [--finetune-epochs 30]
        [--window 256] [--bed blocks.bed] [--limit N] [--device cpu|cuda] [--context-baselines 3,10]
        [--cache-dir DIR]

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
                 from `genomamba.scoring.zero_shot` (negated: a less likely ALT scores higher),
                 evaluated on the same held-out folds; no training
    context_k*   logistic regression on the one-hot ref/alt sequence context of +-k bp (one per
                 k of `--context-baselines`): what the site alone predicts, without the model

`--cache-dir DIR` keeps the features and zero-shot scores (the GPU work) in DIR, one .npz per
model and input set, keyed by the model's weights and config, the reference's bytes, the variants
scored, window and strands: a rerun with the same inputs (other folds, heads, baselines) reads
them and never runs the model; any other input computes (and caches) its own.

Progress: bars on a terminal; with stderr to a file, one line per stage (and a minute); either
way one line per fold with each method's seconds.
Outputs in `-o`: metrics.json (per fold and mean ± sd AUROC/AUPRC, counts, the command),
metrics.md (the table), roc.png (ROC of out-of-fold predictions pooled over folds) and
predictions.tsv (every variant's fold and out-of-fold score per method). Written atomically.
The same run in Python: `genomamba.evaluation.cross_validate_heads`.
"""

from __future__ import annotations

import argparse
import shlex
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `vep-cv` subcommand to a `genomamba-score` parser."""
    from genomamba.cli.args import add_model_dir_argument, add_strands_argument

    p = subparsers.add_parser(
        "vep-cv",
        help="position-blocked k-fold CV: heads and sklearn baselines on frozen features vs zero-shot scores",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_dir_argument(p, ': a CharMambaLM, the frozen backbone')
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
    add_strands_argument(p, "both", cost="")
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
    p.add_argument("--context-baselines", type=_ks, default=(3, 10), metavar="K[,K...]",
                   help="one-hot +-k bp context baselines, comma-separated k (default 3,10; 'none': skip)")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="read/write the features and zero-shot scores here (reused by a run with the same inputs)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or stage lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the cross-validation from parsed arguments, write `-o`, print the table; returns the exit status."""
    from genomamba.errors import GenomambaError
    from genomamba.evaluation import cross_validate_heads, write_cv_outputs

    split = lambda s: [v for v in s.split(",") if v] if s else None
    given = getattr(args, "argv", None)  # set by genomamba-score's main; None when parsed elsewhere
    command = None if given is None else " ".join(shlex.quote(a) for a in ["genomamba-score", *given])
    try:
        result = cross_validate_heads(
            args.model_dir, args.reference, args.variants, label=args.label, positive=split(args.positive),
            negative=split(args.negative), folds=args.folds, block_size=args.block_size, bed=args.bed,
            window=args.window, strands=args.strands, markov=args.markov, head_epochs=args.finetune_epochs,
            head_lr=args.head_lr, gbm_iter=args.gbm_iter, context_baselines=args.context_baselines,
            batch_size=args.batch_size, limit=args.limit, seed=args.seed, on_ref_mismatch=args.on_ref_mismatch,
            device=args.device, progress=not args.quiet, cache_dir=args.cache_dir,
        )
        write_cv_outputs(result, args.output, command=command)
    except (GenomambaError, FileNotFoundError) as e:
        return print(f"genomamba-score vep-cv: error: {e}", file=sys.stderr) or 1
    print(result.table)
    print(f"wrote {args.output}/metrics.json, metrics.md, roc.png, predictions.tsv", file=sys.stderr)
    return 0


def _ks(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        ks = tuple(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers k >= 0 or 'none', got {text!r}") from None
    if any(k < 0 for k in ks):
        raise argparse.ArgumentTypeError(f"context k must be >= 0, got {text!r}")
    return ks
