"""`genomamba-score evaluate`: AUROC / AUPRC of variant scores against labels, a ROC plot, JSON.

    genomamba-score evaluate scored.vcf[.gz]|scored.tsv --label CONSEQUENCE --positive nonsense,missense
        [--negative synonymous] [--scores GM_LLR,GM_DELTA] [--higher-is-positive] -o outdir

Each positive value is one class, compared with the negatives (default: every labelled row whose
label is not a positive value); with several positive values their union is reported too, as
`a+b`. Rows are ALT alleles: a Number=A score of a multi-allelic record gives one row per ALT
(a label with as many comma-separated values as ALTs is split the same way). Rows with a
missing score (`.`: REF mismatch, unknown contig, symbolic ALT) are left out and counted.
A positive value that labels no row, or negatives that select none, is an error naming the
label's values (a typo would otherwise give no metrics).

Sign: a damaging variant makes the alt sequence less likely, so by default LOWER scores are
taken to mean positive (AUROC and AUPRC are computed on `-score`); `--higher-is-positive`
uses the score as it is. AUROC 0.5 is chance either way; 1.0 means every positive ranks above
every negative in the chosen direction.

Writes `outdir/metrics.json` and `outdir/roc.png` (matplotlib, Agg backend), both atomically.
The same in Python: `genomamba.evaluation.evaluate` (a file or a DataFrame -> metrics, Figure).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate` subcommand to a `genomamba-score` parser."""
    p = subparsers.add_parser(
        "evaluate", help="AUROC/AUPRC of scores against labels (+ ROC plot, metrics JSON)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scored", help="scored VCF (plain/.gz) or TSV")
    p.add_argument("--label", required=True, help="INFO key (VCF) or column (TSV) holding the label")
    p.add_argument("--positive", required=True, help="positive label value(s), comma-separated; one class each")
    p.add_argument("--negative", default=None, help="negative label value(s) (default: every non-positive label)")
    p.add_argument("--scores", default="GM_LLR,GM_DELTA", help="score INFO keys / columns, comma-separated")
    p.add_argument("--higher-is-positive", action="store_true",
                   help="higher score = positive (default: lower score = positive, i.e. damaging)")
    p.add_argument("-o", "--outdir", required=True, help="directory for metrics.json and roc.png")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate `args.scored`; writes metrics.json and roc.png into `args.outdir`; returns the exit status."""
    from genomamba.errors import GenomambaError
    from genomamba.evaluation import evaluate, summary_lines, write_evaluation

    try:  # evaluate splits the comma-separated values itself (genomamba.evaluation.report.split_values)
        metrics, fig = evaluate(args.scored, args.label, args.positive, args.negative or None, args.scores,
                                args.higher_is_positive)
        paths = write_evaluation(metrics, fig, args.outdir)
    except (GenomambaError, FileNotFoundError) as e:
        return print(f"genomamba-score evaluate: error: {e}", file=sys.stderr) or 1
    for line in summary_lines(metrics):
        print(line)
    print(f"wrote {paths[0]} and {paths[1]}", file=sys.stderr)
    return 0
