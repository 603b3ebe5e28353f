"""`genomamba-score mutagenesis`: every possible SNV of a region scored, as a TSV and a heatmap.

    genomamba-score mutagenesis MODEL_DIR ref.fa --region CHROM:START-END -o out.tsv [--plot out.png]
        [--window W] [--strands forward|both] [--batch-size 16] [--device auto|cpu|cuda]
        [--log-base e|2] [--rules GM_LLR,GM_DELTA] [--plot-score GM_LLR]

The region is 1-based and inclusive (samtools style; commas allowed). Each position's three SNVs
get the scores `genomamba-score vcf` gives them (same window, rules and strands; the window is run
once per position and its three ALTs from its state at the base). The TSV has chrom, pos (1-based),
ref, alt and one column per score; positions whose base is not A/C/G/T are left out. --plot draws
position x alt base, coloured by the score, the reference base black. In Python:
`gm.saturation_mutagenesis`.

Cost: one reference window and three ALT suffixes per position. On a 2-core CPU the shipped
bacteria-small takes about 1 s per position at its own window (4,096) and 0.15 s with
--window 512: keep CPU regions to a few hundred bp, or use a GPU.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `mutagenesis` subcommand to a `genomamba-score` parser."""
    from genomamba.cli.args import add_model_dir_argument, add_strands_argument, int_at_least, positive_int
    from genomamba.cli.score_vcf import RULES_HELP

    p = subparsers.add_parser("mutagenesis", help="score all 3 SNVs at every position of a region: TSV and heatmap",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_dir_argument(p, ', a causal model')
    p.add_argument("reference", help="reference FASTA (plain, bgzip or gzip)")
    p.add_argument("--region", required=True, help="CHROM:START-END, 1-based inclusive (e.g. chr1:1001-2000)")
    p.add_argument("-o", "--output", required=True, help="output TSV (.tsv, or - for stdout)")
    p.add_argument("--plot", metavar="PNG", default=None, help="also draw the heatmap (position x alt base) here")
    p.add_argument("--plot-score", default="GM_LLR", help="the score the heatmap shows (default GM_LLR)")
    p.add_argument("--window", type=int_at_least(2), default=None,
                   help="window width in bp, >= 2 (default: the model's own, as genomamba-score vcf)")
    add_strands_argument(p, "forward")
    p.add_argument("--batch-size", type=positive_int, default=16, help="windows per forward call")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda if available), cpu, cuda, ...")
    p.add_argument("--log-base", choices=("e", "2"), default="e", help="scores in nats (e) or bits (2)")
    p.add_argument("--rules", default=None, help=RULES_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score every SNV of `args.region` into `args.output` (and `args.plot`)."""
    from genomamba.atomic import atomic_path, check_not_inputs
    from genomamba.errors import GenomambaError
    from genomamba.io.fasta import FastaReader
    from genomamba.scoring.mutagenesis import parse_region, saturation_mutagenesis
    from genomamba.scoring.zero_shot import RULES

    rules = args.rules.split(",") if args.rules else list(RULES)
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise GenomambaError(f"--rules: unknown {', '.join(unknown)}; known: {', '.join(RULES)}")
    if args.plot and args.plot_score not in rules:
        raise GenomambaError(f"--plot-score {args.plot_score}: not among the scores computed ({', '.join(rules)})")
    check_not_inputs({"-o": args.output, "--plot": args.plot}, [args.model_dir, args.reference])
    genome = FastaReader(args.reference, progress=not args.quiet)
    chrom, start, end = parse_region(args.region, genome.lengths)
    table = saturation_mutagenesis(args.model_dir, genome, args.region, window=args.window, strands=args.strands,
                                   rules=rules, batch_size=args.batch_size, device=args.device,
                                   log_base=args.log_base, progress=not args.quiet)
    if args.plot and table.empty:
        raise GenomambaError(f"--plot: region {args.region} has no A/C/G/T base, so no SNVs to draw")
    if args.output == "-":
        table.to_csv(sys.stdout, sep="\t", index=False, float_format="%.6g")
    else:
        with atomic_path(args.output, suffix=".tsv") as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    if args.plot:
        from genomamba.evaluation.plots import plot_mutagenesis, save_figure

        title = f"{chrom}:{start + 1:,}-{end:,}  {args.model_dir}  ({args.plot_score}, {args.strands} strand)"
        save_figure(plot_mutagenesis(table, args.plot_score, title), args.plot)
    print(f"scored {len(table)} SNVs at {table['pos'].nunique()} positions of {chrom}:{start + 1}-{end} -> "
          f"{args.output}" + (f", {args.plot}" if args.plot else ""), file=sys.stderr)
    return 0
