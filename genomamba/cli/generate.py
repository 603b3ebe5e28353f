"""`genomamba-generate`: sample DNA continuing a prompt from a causal model directory (a parser over
`genomamba.models.generation`).

    genomamba-generate MODEL --prompt-seq ACGTTGCA --length 1000 --num-samples 4 -o out.fa
    genomamba-generate MODEL --prompt prompts.fa --length 5000 --temperature 0.8 --top-p 0.95 --seed 1 -o out.fa

Each prompt record gets `--num-samples` continuations, written as `>{record}_sample{i}` with the
settings (and the seed, drawn when none is given) in the description, so any record can be made again.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from contextlib import nullcontext

from genomamba.atomic import (
    STDOUT,
    Terminated,
    atomic_path,
    check_not_inputs,
    terminate_on_sigterm,
)
from genomamba.cli.args import add_model_dir_argument, int_at_least, positive_int
from genomamba.errors import GenomambaError

LINE_WIDTH = 80


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genomamba-generate",
        description="Generate DNA continuing a prompt with a causal model directory (char_mamba, transformer or "
                    "markov): the prompt is read with the parallel forward, then one base per step through the "
                    "recurrent state (a CUDA graph on the GPU), in memory that does not grow with --length. Only "
                    "A, C, G, T are sampled (never N or the special tokens). Bidirectional models are refused.",
    )
    add_model_dir_argument(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", metavar="FASTA", help="FASTA file: every record is a prompt (plain, gzip or bgzip)")
    src.add_argument("--prompt-seq", metavar="SEQ", help="one prompt given as bases (ACGTN; named 'prompt')")
    p.add_argument("--length", type=positive_int, required=True, help="bases to generate per sample")
    p.add_argument("--num-samples", type=positive_int, default=1, help="samples per prompt, generated as one batch (default 1)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature; 0 = greedy (default 1)")
    p.add_argument("--top-k", type=int_at_least(0), default=0, help="sample among the k most likely bases (1-4; default 0: all)")
    p.add_argument("--top-p", type=float, default=1.0,
                   help="nucleus sampling: the most likely bases up to probability p (default 1: all)")
    p.add_argument("--seed", type=int_at_least(0), help="random seed; the same seed, device and settings give the "
                   "same sequences (default: drawn, and written in the FASTA headers)")
    p.add_argument("-o", "--output", required=True, help="FASTA to write (-: stdout)")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--quantize", choices=["int8"],
                   help="int8: weight-only INT8 linear layers (a quarter of the fp32 weight memory; "
                        "genomamba.models.quantize)")
    p.add_argument("--steps-per-graph", type=positive_int, default=32,
                   help="bases generated per CUDA graph replay (default 32)")
    return p


def _prompts(args: argparse.Namespace):
    """(name, tokens) of every prompt."""
    from genomamba.alphabet import encode

    if args.prompt_seq is not None:
        yield "prompt", encode(args.prompt_seq, source="--prompt-seq")
        return
    from genomamba.io.fasta import FastaReader

    with FastaReader(args.prompt, progress=False) as reader:
        for name in reader.names:
            yield name, reader.fetch_tokens(name, 0, reader.lengths[name])


def run(args: argparse.Namespace) -> int:
    from genomamba.models.generation import check_generative, generate
    from genomamba.models.loading import load_model

    inputs = [args.model_dir] + ([args.prompt] if args.prompt else [])
    check_not_inputs({"-o": args.output}, inputs)
    model = load_model(args.model_dir, device=args.device, quantize=args.quantize)
    check_generative(model, args.model_dir)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    settings = f"length={args.length} temperature={args.temperature:g} top_k={args.top_k} top_p={args.top_p:g} seed={seed}"
    with atomic_path(args.output) as tmp, (nullcontext(sys.stdout) if args.output == STDOUT else open(tmp, "w")) as out:
        for name, tokens in _prompts(args):
            seqs = generate(model, tokens, args.length, num_samples=args.num_samples, temperature=args.temperature,
                            top_k=args.top_k, top_p=args.top_p, seed=seed, steps_per_graph=args.steps_per_graph)
            for i, seq in enumerate(seqs):
                out.write(f">{name}_sample{i} prompt={name} {settings}\n")
                out.writelines(seq[j:j + LINE_WIDTH] + "\n" for j in range(0, len(seq), LINE_WIDTH))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `genomamba-generate`: 0 on success, 1 on an error (one line), 130 / 143 on SIGINT / SIGTERM."""
    args = build_parser().parse_args(argv)
    terminate_on_sigterm()
    try:
        return run(args)
    except Terminated:
        print("genomamba-generate: terminated (SIGTERM); the output is unchanged", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("genomamba-generate: interrupted; the output is unchanged", file=sys.stderr)
        return 130
    except (GenomambaError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, ValueError) as e:
        print(f"genomamba-generate: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
