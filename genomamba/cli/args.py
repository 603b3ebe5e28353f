"""Argument types and options shared by the command lines (one home, so the subcommand modules
depend on this file and not on each other)."""

from __future__ import annotations

import argparse
import sys


def add_model_dir_argument(p, what: str = "") -> None:
    """The positional MODEL_DIR of every scorer and the generator: a directory or a shipped name."""
    from genomamba.pretrained import PRETRAINED

    p.add_argument("model_dir", help=f"model directory (config.json + model.safetensors){what}, or a shipped "
                   f"model's name: {', '.join(PRETRAINED)}")


def add_quantize_argument(p) -> None:
    """`--quantize int8` (scoring with weight-only INT8 linear layers), shared by fasta and vcf."""
    p.add_argument("--quantize", choices=["int8"], help="int8: weight-only INT8 linear layers, a quarter of the "
                   "fp32 weight memory (genomamba.models.quantize; neural language models only)")


def model_argument(args):
    """The model argument for the scorers: the directory, or the model loaded and quantized."""
    if not args.quantize:
        return args.model_dir
    from genomamba.models.loading import load_model

    return load_model(args.model_dir, device=args.device or "auto", quantize=args.quantize)


def int_at_least(low: int):
    """An argparse type: an integer >= `low` (0 and negatives are refused, never reinterpreted)."""
    def parse(value: str) -> int:
        n = int(value) if value.lstrip("-").isdigit() else None
        if n is None or n < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value!r}")
        return n
    return parse


positive_int = int_at_least(1)


def add_strands_argument(p, default: str, cost: str = " (twice the work)") -> None:
    """`--strands forward|both` of vcf, mutagenesis and vep-cv: each choice said, and the default."""
    p.add_argument("--strands", choices=("forward", "both"), default=default,
                   help=f"forward: the given strand; both: averaged over the forward and reverse-complement "
                        f"strands{cost} (default: {default})")


def left_behind(exc: BaseException, args) -> str:
    """What an interrupted scoring run left, for its one exit line: the targets unchanged, and
    the `.partial` files it kept (`genomamba.atomic.kept_partials`) that `--resume` continues."""
    from genomamba.atomic import kept_partials

    kept = kept_partials(exc)
    if not kept:
        return "the target files are unchanged"
    how = "--resume without --embeddings" if getattr(args, "embeddings", None) else "--resume"
    return (f"the target files are unchanged; the partial output was kept ({', '.join(map(str, kept))}): "
            f"rerun with {how} to continue it")


def say_if_nothing_to_resume(prog: str, output: str) -> None:
    """`--resume` where the output has no partial file: one line saying so (the run then starts
    from the beginning, as without --resume), rather than silently scoring everything again."""
    from genomamba.atomic import is_stream, partial_path

    if not is_stream(output) and not partial_path(output).exists():
        print(f"{prog}: --resume: no partial output found at {partial_path(output)}; starting from the beginning",
              file=sys.stderr, flush=True)
