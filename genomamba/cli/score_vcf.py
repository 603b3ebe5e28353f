"""`genomamba-score vcf`: zero-shot variant-effect scores written as INFO fields of a VCF.

    genomamba-score vcf MODEL_DIR ref.fa in.vcf[.gz]|in.tsv -o out.vcf.gz [--window 8192]
        [--strands forward|both] [--batch-size 16] [--device cpu|cuda] [--unknown-contig error|flag]
        [--limit N] [--log-base e|2] [--rules GM_LLR,GM_DELTA]

The engine is `genomamba.scoring.variants.VariantScorer`; this file only parses arguments, opens
inputs and outputs and reports progress. Output `.vcf`/`.vcf.gz` keeps every input record and header
line (a TSV input becomes a minimal VCF whose extra columns are INFO fields); `.tsv`/`.tsv.gz`
output (TSV input only) keeps every input column and adds `filter` and one column per score.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `vcf` subcommand to a `genomamba-score` parser."""
    p = subparsers.add_parser(
        "vcf",
        help="score variants (VCF or TSV) with a model: GM_LLR and GM_DELTA INFO fields",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model_dir", help="model directory (config.json + model.safetensors)")
    p.add_argument("reference", help="reference FASTA (plain, bgzip or gzip)")
    p.add_argument("variants", help="input VCF (plain/.gz) or TSV with chrom, pos (1-based), ref, alt columns")
    p.add_argument("-o", "--output", required=True, help="output .vcf, .vcf.gz (bgzip + tabix with pysam), .tsv[.gz]")
    p.add_argument("--window", type=int, default=None, help="window width in bp (default: the model's context or 8192)")
    p.add_argument("--strands", choices=("forward", "both"), default="forward",
                   help="'both' averages the forward and reverse-complement scores")
    p.add_argument("--batch-size", type=int, default=16, help="windows per forward call")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--unknown-contig", choices=("error", "flag"), default="error",
                   help="a contig missing from the FASTA: stop with an error, or flag it UNKNOWN_CONTIG")
    p.add_argument("--limit", type=int, default=None, help="score only the first N records (output has N records)")
    p.add_argument("--log-base", choices=("e", "2"), default="e", help="scores in nats (e) or bits (2)")
    p.add_argument("--head", default=None, metavar="HEAD_DIR",
                   help="variant-effect head directory (from genomamba-train experiment=vep_*): adds GM_HEAD, "
                        "the head's class probability per ALT")
    p.add_argument("--rules", default=None, help="comma-separated score names (default: all, GM_LLR,GM_DELTA)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score `args.variants` into `args.output`; returns the exit status (0 on success)."""
    from itertools import islice

    from tqdm.auto import tqdm

    from genomamba.device import resolve_device
    from genomamba.errors import GenomambaError
    from genomamba.io.fasta import FastaReader
    from genomamba.io.vcf import TsvWriter, VcfWriter, read_variants
    from genomamba.models.loading import load_model
    from genomamba.scoring.variants import FILTER_LINES, RULES, VariantScorer

    device = resolve_device(args.device)
    rules = args.rules.split(",") if args.rules else list(RULES)
    try:
        model = load_model(args.model_dir, device)
        genome = FastaReader(args.reference)
        header, records = read_variants(args.variants)
        if args.limit is not None:
            records = islice(records, max(args.limit, 0))
        scorer = VariantScorer(
            model, genome, window=args.window, strands=args.strands, batch_size=args.batch_size,
            device=device, rules=rules, log_base=args.log_base, unknown_contig=args.unknown_contig,
        )
        head = None
        if args.head:
            from genomamba.scoring.head import HeadScorer

            head = HeadScorer(args.head, genome, batch_size=args.batch_size, device=device)
        out = str(args.output)
        if out.endswith((".tsv", ".tsv.gz")):
            writer = TsvWriter(out, header, list(scorer.rules) + (["GM_HEAD"] if head else []))
        else:
            command = "genomamba-score vcf " + " ".join(
                shlex.quote(str(a)) for a in (args.model_dir, args.reference, args.variants, "-o", out))
            meta = [f"##genomamba_scoreCommand={command} --window {scorer.window} --strands {args.strands}"]
            info = scorer.info_header_lines() + (head.info_header_lines() if head else [])
            writer = VcfWriter(out, header, info, FILTER_LINES, meta, contigs=genome.lengths)
        t0 = time.perf_counter()
        with writer, tqdm(records, unit=" variants", desc="scoring", total=args.limit, disable=None) as bar:
            scored = scorer.score(bar)
            for rec in head.score(scored) if head else scored:
                writer.write(rec)
        dt = time.perf_counter() - t0
    except (GenomambaError, FileNotFoundError, ValueError) as e:
        print(f"genomamba-score vcf: error: {e}", file=sys.stderr)
        return 1
    s = scorer.stats
    print(
        f"scored {s.alleles_scored} alleles in {s.records} records ({s.records / max(dt, 1e-9):.1f} variants/s, "
        f"window {scorer.window}, strands {args.strands}, device {device}); REF mismatches: {s.ref_mismatch}; "
        f"unknown contigs: {s.unknown_contig}; symbolic ALTs skipped: {s.alleles_skipped} -> {args.output} "
        f"({writer.note})",
        file=sys.stderr,
    )
    return 0
