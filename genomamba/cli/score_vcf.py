"""`genomamba-score vcf`: zero-shot variant-effect scores written as INFO fields of a VCF.

    genomamba-score vcf MODEL_DIR ref.fa in.vcf[.gz]|in.tsv -o out.vcf.gz [--window W]
        [--strands forward|both] [--batch-size 16] [--device cpu|cuda] [--unknown-contig error|flag]
        [--limit N] [--log-base e|2] [--rules GM_LLR,GM_DELTA] [--head HEAD_DIR] [--resume]
        [--no-state-cache]

The work is in `genomamba.scoring.runs` (`prepare_variants`, `write_variants`). Output
`.vcf`/`.vcf.gz` keeps every input record and header line (a TSV input becomes a minimal VCF
whose extra columns are INFO fields); `.tsv`/`.tsv.gz` output (TSV input only) keeps every input
column and adds `filter` and one column per score.

Window cost: each reference window (W bases) is run once and its state kept at the allele; each
ALT then runs only its allele and the bases after it (about W/2 for a centred window), from that
state; --no-state-cache runs every alt window whole (same scores, for checking; models without a
carried state always do). --strands both doubles the work. Time grows linearly with W. The
default is the model's own: its training window (config.json), 2(k+1)+1 for an order-k Markov
model (all a k-mer model can see), else 8192. On a CPU, start small: the shipped bacteria-small
(window 4,096) scores about 2 variants/s on 2 cores, and 13 variants/s with --window 512; try
--limit 20 first. On one H200 it scores 50,000 SNVs, both strands, at --window 2048 --batch-size 128
in about 5 minutes (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["RULES_HELP", "register", "run", "recorded_command"]

# the --rules help of `vcf` and `mutagenesis` (a plain string: building the parser imports no torch;
# the names are genomamba.scoring.zero_shot.RULES, which a test holds this to)
RULES_HELP = (
    "comma-separated scoring rules (default: all: GM_LLR,GM_DELTA). For an SNV GM_DELTA = GM_LLR / "
    "(window - 1), window - 1 being the bases scored, so both rank SNVs identically (not so for indels, "
    "nor where the window holds N or is longer than the contig)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `vcf` subcommand to a `genomamba-score` parser."""
    from genomamba.cli.args import (
        add_model_dir_argument,
        add_quantize_argument,
        add_strands_argument,
        int_at_least,
        positive_int,
    )

    p = subparsers.add_parser("vcf", help="score variants (VCF or TSV) with a model: GM_LLR and GM_DELTA INFO fields",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_dir_argument(p)
    p.add_argument("reference", help="reference FASTA (plain, bgzip or gzip)")
    p.add_argument("variants", help="input VCF (plain/.gz) or TSV with chrom, pos (1-based), ref, alt columns")
    p.add_argument("-o", "--output", required=True,
                   help="output .vcf, .vcf.gz (bgzip + tabix with pysam), .tsv[.gz], or - (stdout)")
    p.add_argument("--window", type=int_at_least(2), default=None,
                   help="window width in bp, >= 2 (default: the model's own, see above; cost is linear in it)")
    add_strands_argument(p, "forward")
    p.add_argument("--batch-size", type=positive_int, default=16, help="windows per forward call")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    add_quantize_argument(p)
    p.add_argument("--unknown-contig", choices=("error", "flag"), default="error",
                   help="a contig missing from the FASTA: stop with an error, or flag it UNKNOWN_CONTIG")
    p.add_argument("--limit", type=positive_int, default=None, help="score only the first N records (output has N records)")
    p.add_argument("--log-base", choices=("e", "2"), default="e", help="scores in nats (e) or bits (2)")
    p.add_argument("--head", default=None, metavar="HEAD_DIR",
                   help="variant-effect head directory (from genomamba-train experiment=vep_*): adds GM_HEAD, the "
                        "head's positive-class probability per ALT (and GM_HEAD_<class> for a multi-class head)")
    p.add_argument("--rules", default=None, help=RULES_HELP)
    p.add_argument("--resume", action="store_true",
                   help="continue the partial output an interrupted run left: keep its records, score the rest")
    p.add_argument("--no-state-cache", dest="state_cache", action="store_false",
                   help="run every alt window whole instead of from the ref state at the allele (same scores, "
                        "about 1.3x the work for isolated SNVs; for checking)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no stage lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score `args.variants` into `args.output`; returns the exit status (errors are raised)."""
    from genomamba import progress
    from genomamba.scoring.runs import prepare_variants, write_variants

    lines = not args.quiet and not progress.interactive()

    def stage(msg: str) -> None:  # a log line per stage where no progress bar is drawn
        if lines:
            print(f"genomamba-score vcf: {msg}", file=sys.stderr, flush=True)

    stage(f"loading {args.model_dir} and opening {args.variants}")
    from genomamba.cli.args import model_argument

    job = prepare_variants(model_argument(args), args.reference, args.variants, window=args.window, strands=args.strands,
                           head=args.head, rules=args.rules, batch_size=args.batch_size, device=args.device,
                           unknown_contig=args.unknown_contig, log_base=args.log_base, limit=args.limit,
                           progress=not args.quiet, state_cache=args.state_cache)
    s = job.scorer
    stage(f"scoring {job.total if job.total is not None else 'all'} records (window {s.window}, strands {s.strands}, "
          f"device {s.device})")
    if args.resume:
        from genomamba.cli.args import say_if_nothing_to_resume

        say_if_nothing_to_resume("genomamba-score vcf", args.output)
    t0 = time.perf_counter()
    with progress.stage("scoring", job.total, "variants", enabled=not args.quiet) as done:
        n, note = write_variants(job, args.output, command=recorded_command(args), resume=args.resume, progress=done,
                                 set_total=done.reset, stage=stage)
    dt = time.perf_counter() - t0
    st = s.stats
    print(f"scored {st.alleles_scored} alleles in {st.records} records ({st.records / max(dt, 1e-9):.1f} variants/s, "
          f"window {s.window}, strands {s.strands}, device {s.device}); REF mismatches: {st.ref_mismatch}; "
          f"unknown contigs: {st.unknown_contig}; symbolic or N ALTs skipped: {st.alleles_skipped} -> {args.output} "
          f"({note})", file=sys.stderr)
    return 0


def recorded_command(args: argparse.Namespace) -> list[str]:
    """The run as the `##genomamba_scoreCommand` header line records it: the inputs, `-o` and every
    option that shapes the output, defaults included (`write_variants` adds the resolved --window
    and --strands). --resume and -q change no output byte and are left out: a resumed run must
    write the header of the run it continues (`VcfWriter` compares them)."""
    cmd = ["genomamba-score", "vcf", args.model_dir, args.reference, args.variants, "-o", args.output]
    for flag, value in (("--batch-size", args.batch_size), ("--device", args.device), ("--quantize", args.quantize),
                        ("--unknown-contig", args.unknown_contig), ("--limit", args.limit),
                        ("--log-base", args.log_base), ("--head", args.head), ("--rules", args.rules)):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd + ([] if args.state_cache else ["--no-state-cache"])
