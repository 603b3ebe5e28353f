"""`genomamba-score`: score FASTA and VCF files with a model directory (a parser over the library).

Subcommands: `fasta` (bits per base, per-base tracks, embeddings), `fit-markov` (an order-k
baseline), `vcf` (`cli/score_vcf.py`), `mutagenesis` (`cli/score_mutagenesis.py`), `evaluate` and
`vep-cv` (`cli/evaluate.py`, `cli/vep.py`).
The work is in `genomamba.scoring.runs`; `main()` is the one place that turns errors into one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from genomamba.atomic import Terminated, check_not_inputs, terminate_on_sigterm
from genomamba.cli.args import (
    add_model_dir_argument,
    add_quantize_argument,
    left_behind,
    model_argument,
    positive_int,
    say_if_nothing_to_resume,
)
from genomamba.errors import GenomambaError


def score_fasta(args: argparse.Namespace) -> int:
    """`genomamba-score fasta`: summaries, tracks and embeddings of every record of a FASTA file."""
    from genomamba.progress import stage
    from genomamba.scoring.runs import prepare_fasta, write_fasta

    run = prepare_fasta(model_argument(args), args.fasta, window=args.window, stride=args.stride, records=args.records,
                        both_strands=args.both_strands, batch_size=args.batch_size, chunk_size=args.chunk_size,
                        device=args.device, hidden=args.embeddings or False,
                        progress=not args.quiet, pack=not args.no_pack)
    if args.resume:
        say_if_nothing_to_resume("genomamba-score fasta", args.output)
    with stage("score", None, "bp", enabled=not args.quiet, unit_scale=True) as done:  # total: write_fasta's
        write_fasta(run, args.output, tracks=args.tracks, embeddings=args.embeddings, resume=args.resume,
                    progress=done, set_total=done.reset, model_path=args.model_dir,
                    stage=lambda msg: print(f"genomamba-score fasta: {msg}", file=sys.stderr))
    return 0


def fit_markov(args: argparse.Namespace) -> int:
    """`genomamba-score fit-markov`: count an order-k Markov model into a model directory."""
    from genomamba.models import MarkovLM

    out = Path(args.output)
    check_not_inputs({"-o": out}, args.fasta)
    if (out / "config.json").exists() and not args.force:
        raise GenomambaError(f"-o {out}: a model directory is already there; use --force to replace it")
    model = MarkovLM.fit(args.fasta, k=args.k, alpha=args.alpha, both_strands=args.both_strands,
                         chunk=args.chunk_size, progress=not args.quiet)
    model.save_pretrained(out)
    return 0


def _add_fasta(sub) -> None:
    from genomamba.scoring import DEFAULT_CHUNK, DEFAULT_CHUNK_CUDA

    p = sub.add_parser("fasta", help="per-record bits per base, per-base tracks and embeddings of a FASTA file",
                       description="Score every record of a FASTA file with a causal model: a Mamba (or hybrid), a "
                       "transformer or an order-k Markov model directory, or a shipped model by name.")
    add_model_dir_argument(p)
    p.add_argument("fasta", help="FASTA file: plain, gzip or bgzip")
    p.add_argument("-o", "--output", required=True,
                   help="TSV: name, length, bits_per_base, n_count, scored_bases per record (with --window: name, "
                        "start, end, bits_per_base, n_count, scored_bases per window); .gz: bgzip; -: stdout")
    p.add_argument("--tracks", metavar="PATH",
                   help="also write the per-base natural-log likelihood: .bedGraph, .bedGraph.gz (bgzip) or "
                        ".bw/.bigWig (needs pyBigWig); 0-based; equal consecutive values merged; N bases and "
                        "each record's first base have no value")
    p.add_argument("--embeddings", metavar="PATH",
                   help="also write mean-pooled final hidden states per record (or per window): "
                        ".parquet (needs pyarrow) or .npz; char_mamba models only")
    p.add_argument("--both-strands", action="store_true",
                   help="average each base's log-likelihood over the forward and reverse-complement strands")
    p.add_argument("--window", type=positive_int, metavar="W",
                   help="report windows of W bases instead of whole records (the model still reads "
                        "each record in one stream, so every window has its full left context)")
    p.add_argument("--stride", type=positive_int, metavar="S", help="step between window starts (default W; must be <= W)")
    p.add_argument("--records", metavar="NAMES", help="comma-separated records to score (default: all)")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda if available), cpu, cuda, cuda:1, ...")
    add_quantize_argument(p)
    p.add_argument("--batch-size", type=positive_int, default=8,
                   help="records no longer than --chunk-size are packed end to end into this many rows of "
                        "--chunk-size bases per model call (default 8)")
    p.add_argument("--no-pack", action="store_true",
                   help="score short records one per padded row (--batch-size records per call) instead of "
                        "packed; packing needs a char_mamba model and gives the same scores")
    p.add_argument("--chunk-size", type=positive_int,
                   help=f"bases per model call; memory grows with it, not with record length "
                        f"(default {DEFAULT_CHUNK} on CPU, {DEFAULT_CHUNK_CUDA} on CUDA)")
    p.add_argument("--resume", action="store_true",
                   help="continue the partial output an interrupted run left (.NAME.partial): keep its complete "
                        "records and score only the rest (same result as an uninterrupted run)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=score_fasta)


def _add_fit_markov(sub) -> None:
    p = sub.add_parser("fit-markov", help="fit an order-k Markov baseline from FASTA files into a model directory",
                       description="Count k-mers of FASTA files (streaming) into a MarkovLM model directory.")
    p.add_argument("fasta", nargs="+", help="FASTA files (plain, gzip or bgzip)")
    p.add_argument("-k", type=int, default=6, help="order: bases of context (default 6, at most 12)")
    p.add_argument("-o", "--output", required=True, help="model directory to write (created)")
    p.add_argument("--force", action="store_true", help="replace a model directory that is already at -o")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="smoothing pseudo-count per base, pulling each order toward the next lower (default 1)")
    p.add_argument("--both-strands", action="store_true", help="also count the reverse complement of every record")
    p.add_argument("--chunk-size", type=positive_int, default=1 << 20, help="bases read per step (default 1048576)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=fit_markov)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genomamba-score",
                                     description="Score FASTA and VCF files with a genomamba model directory.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_fasta(sub)
    _add_fit_markov(sub)
    from genomamba.cli import evaluate, score_mutagenesis, score_vcf, vep

    score_vcf.register(sub)
    score_mutagenesis.register(sub)
    evaluate.register(sub)
    vep.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `genomamba-score`: 0 on success, 1 on an error (one line), 130 / 143 on SIGINT / SIGTERM."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command line as given, for outputs that record it (vep-cv's metrics.json)
    prefix = f"genomamba-score {args.command}"
    terminate_on_sigterm()
    try:
        return int(args.func(args) or 0)
    except Terminated as e:
        print(f"{prefix}: terminated (SIGTERM); {left_behind(e, args)}", file=sys.stderr)
        return 143
    except KeyboardInterrupt as e:
        print(f"{prefix}: interrupted; {left_behind(e, args)}", file=sys.stderr)
        return 130
    except (GenomambaError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
            ValueError) as e:
        print(f"{prefix}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
