"""`genomamba-score`: score FASTA (and, through teammates' modules, VCF) files with a model directory.

Subcommands:
    fasta       per-record (or per-window) bits per base, per-base bedGraph tracks, embeddings
    fit-markov  count an order-k Markov baseline into a model directory
    vcf, evaluate   registered by `genomamba.cli.score_vcf` and `genomamba.cli.evaluate`
    vep-cv          registered by `genomamba.cli.vep` (cross-validated variant-effect heads and baselines)

Every output is written to a temporary file beside its target and moved into place only when the
whole run succeeded, so an interrupted run leaves no partial output. The CLI is a thin shell over
`genomamba.scoring` and `genomamba.models`.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from genomamba.errors import GenomambaError

EMBEDDING_SUFFIXES = (".parquet", ".npz")


# --------------------------------------------------------------------------------------------
# Atomic outputs
# --------------------------------------------------------------------------------------------


class AtomicOutputs:
    """Temporary paths beside each target, all moved into place on success, all removed on failure."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path(self, target: str | Path) -> Path:
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the output should get the usual mode
        self._pending.append((Path(tmp), target))
        return Path(tmp)

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            for tmp, target in self._pending:
                os.replace(tmp, target)
        else:
            for tmp, _ in self._pending:
                tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------


class BedGraphWriter:
    """Per-base log-likelihood as bedGraph (0-based, end-exclusive), values rounded to 4 decimals.

    Consecutive bases with the same rounded value become one line; unscored bases (NaN) get none.
    """

    def __init__(self, path: Path, track_name: str) -> None:
        self._f = open(path, "w")
        self._f.write(f'track type=bedGraph name="{track_name}" description="per-base natural-log likelihood"\n')
        self._run: tuple[str, int, int, float] | None = None  # the last run, kept open across pieces

    def add(self, name: str, start: int, ll: np.ndarray) -> None:
        v = np.round(ll.astype(np.float64), 4)
        n = v.shape[0]
        if n == 0:
            return
        brk = np.ones(n, bool)
        brk[1:] = v[1:] != v[:-1]  # NaN != NaN, so NaN bases never merge (and are dropped below)
        starts = np.flatnonzero(brk)
        ends = np.append(starts[1:], n)
        vals = v[starts]
        runs = list(zip(itertools.repeat(name), (start + starts).tolist(), (start + ends).tolist(), vals.tolist()))
        prev = self._run
        if prev is not None:
            if prev[0] == name and prev[2] == start and prev[3] == runs[0][3]:  # NaN never equal
                runs[0] = (name, prev[1], runs[0][2], prev[3])
            else:
                runs.insert(0, prev)
        self._emit(runs[:-1])
        self._run = runs[-1]

    def _emit(self, runs) -> None:
        self._f.write("".join(f"{c}\t{s}\t{e}\t{x:.4f}\n" for c, s, e, x in runs if not math.isnan(x)))

    def close(self) -> None:
        if self._run is not None:
            self._emit([self._run])
            self._run = None
        self._f.close()


class EmbeddingWriter:
    """Mean hidden states per record or window: Parquet (streamed in row groups, needs pyarrow) or .npz.

    Parquet columns: name, start, end, embedding (fixed-size list of float32). The .npz holds
    arrays `name`, `start`, `end` and `embedding` `[rows, D]` (kept in memory until closed).
    """

    ROW_GROUP = 4096

    def __init__(self, path: Path, fmt: str) -> None:
        self._path, self._fmt = path, fmt
        self._rows: list = []
        self._writer = None

    def add(self, name: str, start: int, end: int, embedding: np.ndarray) -> None:
        self._rows.append((name, start, end, embedding))
        if self._fmt == ".parquet" and len(self._rows) >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._rows:
            return
        names, starts, ends, embs = zip(*self._rows)
        emb = np.stack(embs).astype(np.float32)
        values = pa.array(emb.reshape(-1))
        table = pa.table(
            {
                "name": pa.array(names, pa.string()),
                "start": pa.array(starts, pa.int64()),
                "end": pa.array(ends, pa.int64()),
                "embedding": pa.FixedSizeListArray.from_arrays(values, emb.shape[1]),
            }
        )
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._path, table.schema)
        self._writer.write_table(table)
        self._rows = []

    def close(self) -> None:
        if self._fmt == ".parquet":
            self._flush()
            if self._writer is not None:
                self._writer.close()
            return
        names, starts, ends, embs = zip(*self._rows) if self._rows else ((), (), (), ())
        with open(self._path, "wb") as f:  # a file object: np.savez would append ".npz" to the temp name
            np.savez(
                f, name=np.array(names, dtype=str), start=np.array(starts, np.int64),
                end=np.array(ends, np.int64),
                embedding=np.stack(embs).astype(np.float32) if embs else np.zeros((0, 0), np.float32),
            )


# --------------------------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------------------------


def _check_embeddings_path(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in EMBEDDING_SUFFIXES:
        raise GenomambaError(f"--embeddings {path}: use a .parquet or .npz file name")
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise GenomambaError(
            f"--embeddings {path}: writing Parquet needs pyarrow (pip install pyarrow), "
            f"or give a .npz file name instead"
        )
    return suffix


def score_fasta(args: argparse.Namespace) -> int:
    """`genomamba-score fasta`: summaries, tracks and embeddings of every record of a FASTA file."""
    from tqdm.auto import tqdm

    from genomamba.device import resolve_device
    from genomamba.io.fasta import FastaReader
    from genomamba.models import MarkovLM, load_model
    from genomamba.scoring import (
        DEFAULT_CHUNK,
        DEFAULT_CHUNK_CUDA,
        score_records,
        summarize,
    )

    if args.window is None and args.stride is not None:
        raise GenomambaError("--stride needs --window")
    if args.window is not None and args.stride is not None and args.stride > args.window:
        raise GenomambaError(f"--stride {args.stride} > --window {args.window} would leave bases unscored")
    emb_fmt = _check_embeddings_path(args.embeddings) if args.embeddings else None
    device = resolve_device(args.device)
    chunk = args.chunk_size or (DEFAULT_CHUNK_CUDA if device.type == "cuda" else DEFAULT_CHUNK)
    model = load_model(args.model_dir, device=device)
    if emb_fmt is not None and isinstance(model, MarkovLM):
        raise GenomambaError(f"--embeddings: {args.model_dir} is a Markov model, which has no hidden states")
    reader = FastaReader(args.fasta)
    names = reader.names
    if args.records:
        wanted = args.records.split(",")
        missing = [n for n in wanted if n not in reader]
        if missing:
            raise GenomambaError(f"{args.fasta}: no record(s) {', '.join(map(repr, missing))}")
        names = wanted
    lengths = reader.lengths
    total = sum(lengths[n] for n in names) * (2 if args.both_strands else 1)

    with AtomicOutputs() as out, reader:
        tsv = open(out.path(args.output), "w")
        tracks = BedGraphWriter(out.path(args.tracks), Path(args.fasta).name) if args.tracks else None
        embs = EmbeddingWriter(out.path(args.embeddings), emb_fmt) if emb_fmt else None
        try:
            if args.window:
                tsv.write("name\tstart\tend\tbits_per_base\tn_count\tscored_bases\n")
            else:
                tsv.write("name\tlength\tbits_per_base\tn_count\tscored_bases\n")
            with tqdm(
                total=total, unit="bp", unit_scale=True, desc="score", disable=args.quiet, file=sys.stderr
            ) as bar:
                chunks = score_records(
                    model, reader, names, batch_size=args.batch_size, chunk=chunk,
                    both_strands=args.both_strands, hidden=emb_fmt is not None, progress=bar.update,
                )
                for row in summarize(_tee_tracks(chunks, tracks), args.window, args.stride):
                    bpb = f"{row.bits_per_base:.6f}"
                    if args.window:
                        tsv.write(f"{row.name}\t{row.start}\t{row.end}\t{bpb}\t{row.n_count}\t{row.scored}\n")
                    else:
                        tsv.write(f"{row.name}\t{row.end - row.start}\t{bpb}\t{row.n_count}\t{row.scored}\n")
                    if embs is not None:
                        embs.add(row.name, row.start, row.end, row.embedding)
        finally:
            tsv.close()
            if tracks is not None:
                tracks.close()
            if embs is not None:
                embs.close()
    return 0


def _tee_tracks(chunks: Iterator, tracks: BedGraphWriter | None) -> Iterator:
    for c in chunks:
        if tracks is not None:
            tracks.add(c.name, c.start, c.ll)
        yield c


def fit_markov(args: argparse.Namespace) -> int:
    """`genomamba-score fit-markov`: count an order-k Markov model into a model directory."""
    from genomamba.models import MarkovLM

    model = MarkovLM.fit(
        args.fasta, k=args.k, alpha=args.alpha, both_strands=args.both_strands,
        chunk=args.chunk_size, progress=not args.quiet,
    )
    model.save_pretrained(args.output)
    return 0


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return n


def _add_fasta(sub) -> None:
    from genomamba.scoring import DEFAULT_CHUNK, DEFAULT_CHUNK_CUDA

    p = sub.add_parser(
        "fasta", help="per-record bits per base, per-base tracks and embeddings of a FASTA file",
        description="Score every record of a FASTA file with a model directory (char_mamba or markov).",
    )
    p.add_argument("model_dir", help="model directory (config.json + model.safetensors)")
    p.add_argument("fasta", help="FASTA file: plain, gzip or bgzip")
    p.add_argument("-o", "--output", required=True,
                   help="TSV: name, length, bits_per_base, n_count, scored_bases per record "
                        "(with --window: name, start, end, bits_per_base, n_count, scored_bases per window)")
    p.add_argument("--tracks", metavar="BEDGRAPH",
                   help="also write the per-base natural-log likelihood as bedGraph (0-based; equal "
                        "consecutive values merged; N bases and each record's first base have no line)")
    p.add_argument("--embeddings", metavar="PATH",
                   help="also write mean-pooled final hidden states per record (or per window): "
                        ".parquet (needs pyarrow) or .npz; char_mamba models only")
    p.add_argument("--both-strands", action="store_true",
                   help="average each base's log-likelihood over the forward and reverse-complement strands")
    p.add_argument("--window", type=_positive_int, metavar="W",
                   help="report windows of W bases instead of whole records (the model still reads "
                        "each record in one stream, so every window has its full left context)")
    p.add_argument("--stride", type=_positive_int, metavar="S",
                   help="step between window starts (default W; must be <= W)")
    p.add_argument("--records", metavar="NAMES", help="comma-separated records to score (default: all)")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--batch-size", type=_positive_int, default=8,
                   help="records no longer than --chunk-size scored together per model call (default 8)")
    p.add_argument("--chunk-size", type=_positive_int,
                   help=f"bases per model call; memory grows with it, not with record length "
                        f"(default {DEFAULT_CHUNK} on CPU, {DEFAULT_CHUNK_CUDA} on CUDA)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=score_fasta)


def _add_fit_markov(sub) -> None:
    p = sub.add_parser(
        "fit-markov", help="fit an order-k Markov baseline from FASTA files into a model directory",
        description="Count k-mers of FASTA files (streaming) into a MarkovLM model directory.",
    )
    p.add_argument("fasta", nargs="+", help="FASTA files (plain, gzip or bgzip)")
    p.add_argument("-k", type=int, default=6, help="order: bases of context (default 6, at most 12)")
    p.add_argument("-o", "--output", required=True, help="model directory to write (created)")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="smoothing pseudo-count per base, pulling each order toward the next lower (default 1)")
    p.add_argument("--both-strands", action="store_true", help="also count the reverse complement of every record")
    p.add_argument("--chunk-size", type=_positive_int, default=1 << 20, help="bases read per step (default 1048576)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=fit_markov)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genomamba-score", description="Score FASTA and VCF files with a genomamba model directory."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_fasta(sub)
    _add_fit_markov(sub)
    from genomamba.cli import evaluate, score_vcf, vep

    score_vcf.register(sub)
    evaluate.register(sub)
    vep.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `genomamba-score`; returns the exit status (1 on a GenomambaError)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (GenomambaError, FileNotFoundError) as e:
        print(f"genomamba-score {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
