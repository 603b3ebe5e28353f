"""Argument types and options shared by the command lines (one home, so the subcommand modules
depend on this file and not on each other)."""

from __future__ import annotations

import argparse


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
