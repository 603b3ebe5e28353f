"""genomamba-convert: move Mamba models between genomamba and the Hugging Face ecosystem.

    genomamba-convert outputs/pretrain/.../model hf_model/     # genomamba -> transformers MambaForCausalLM
    genomamba-convert hf_model/ genomamba_model/               # transformers -> genomamba
    genomamba-convert mamba_ssm_checkpoint/ genomamba_model/   # mamba-ssm MambaLMHeadModel -> genomamba

The direction follows the source's config.json; the work is in `genomamba.models.hf_convert`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from genomamba.errors import GenomambaError
from genomamba.pretrained import PRETRAINED


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genomamba-convert",
        description="Convert a genomamba CharMambaLM model directory to a transformers MambaForCausalLM "
        "directory, or a transformers / mamba-ssm Mamba directory to a genomamba one (the direction "
        "follows SRC_DIR's config.json). Only models with genomamba's 8-token vocabulary convert.",
    )
    p.add_argument("src_dir", help="model directory to convert (config.json + weights), or a shipped model's "
                   f"name ({', '.join(PRETRAINED)})")
    p.add_argument("dest_dir", help="directory to write (config.json + model.safetensors)")
    p.add_argument("--force", action="store_true", help="overwrite a model directory already at DEST_DIR")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `genomamba-convert`; returns the exit status (1 on a GenomambaError)."""
    args = build_parser().parse_args(argv)
    from genomamba.models.hf_convert import convert

    try:
        if (Path(args.dest_dir) / "config.json").exists() and not args.force:
            raise GenomambaError(f"{args.dest_dir} already holds a model directory (use --force to overwrite)")
        if Path(args.src_dir).resolve() == Path(args.dest_dir).resolve():
            raise GenomambaError(f"{args.src_dir}: source and destination are the same directory")
        src_fmt, dest_fmt = convert(args.src_dir, args.dest_dir)
    except GenomambaError as e:
        print(f"genomamba-convert: error: {e}", file=sys.stderr)
        return 1
    print(f"{args.src_dir} ({src_fmt}) -> {args.dest_dir} ({dest_fmt})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
