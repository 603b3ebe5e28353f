"""Whole scoring runs, the one loop behind `genomamba-score fasta` / `vcf` and `genomamba.api`.

`prepare_fasta` / `prepare_variants` check the options and open the inputs; `fasta_rows` /
`scored_variants` are the iterators the CLI writers and the DataFrame functions both consume, so
the two can never disagree. `write_fasta` / `write_variants` write the files: atomic outputs
(`genomamba.atomic`), `.gz` compressed as named, `--resume` continuing a partial output.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import torch

from genomamba.atomic import AtomicOutputs, Output, check_not_inputs
from genomamba.device import resolve_device
from genomamba.errors import GenomambaError
from genomamba.io.compress import compressor
from genomamba.io.fasta import FastaReader, preview_names
from genomamba.io.tracks import BedGraphWriter, check_track_name, track_finisher
from genomamba.io.vcf import TsvWriter, VariantHeader, VariantRecord, VcfWriter, count_records, read_variants
from genomamba.scoring.embeddings import EmbeddingWriter, embedding_format
from genomamba.scoring.likelihood import (
    DEFAULT_CHUNK,
    DEFAULT_CHUNK_CUDA,
    Summary,
    batch_groups,
    score_records,
    summarize,
)

__all__ = [
    "FastaRun", "prepare_fasta", "fasta_columns", "fasta_fields", "fasta_rows", "write_fasta",
    "VariantRun", "prepare_variants", "scored_variants", "write_variants", "as_model",
]


def as_model(model, device: torch.device):
    """A loaded model (moved to `device`) or a model directory path (loaded onto it)."""
    from genomamba.models.loading import load_model

    if isinstance(model, (str, Path)):
        return load_model(model, device=device)
    return model.to(device).eval()


def _positive(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or value < 1):
        raise GenomambaError(f"{name} must be a positive integer, got {value!r}")


# --------------------------------------------------------------------------------------------
# FASTA
# --------------------------------------------------------------------------------------------


@dataclass
class FastaRun:
    """A checked FASTA scoring job: model on its device, open reader, records in order."""

    model: torch.nn.Module
    reader: FastaReader
    fasta: str
    names: list[str]
    window: int | None
    stride: int | None
    both_strands: bool
    batch_size: int
    chunk: int
    device: torch.device
    hidden: bool = False
    pack: bool = False  # short records packed into rows (continuous batching) instead of padded

    def total_bases(self, names: Sequence[str] | None = None) -> int:
        lengths = self.reader.lengths
        return sum(lengths[n] for n in (self.names if names is None else names)) * (2 if self.both_strands else 1)


def prepare_fasta(
    model, fasta: str | Path, *, window: int | None = None, stride: int | None = None,
    records: Sequence[str] | str | None = None, both_strands: bool = False, batch_size: int = 8,
    chunk_size: int | None = None, device: str | torch.device | None = "auto", hidden: bool | str = False,
    progress: bool = True, pack: bool = True,
) -> FastaRun:
    """Check the options, load the model (path or object) and open the FASTA.

    `hidden`: also return hidden states (for embeddings); an embeddings path is checked by name.
    `progress`: False hides the bar of a plain-gzip FASTA's one-time decompression.
    `pack`: pack records shorter than the chunk into rows (`batch_size` rows of `chunk` bases per
    call) where the model can (`packed_scoring`); else `batch_size` padded records per call.

    Raises:
        GenomambaError: stride without window, stride > window, non-positive sizes, unknown
            records, embeddings asked of a Markov model.
    """
    for name, v in (("window", window), ("stride", stride), ("batch_size", batch_size), ("chunk_size", chunk_size)):
        _positive(name, v)
    if window is None and stride is not None:
        raise GenomambaError("--stride needs --window")
    if window is not None and stride is not None and stride > window:
        raise GenomambaError(f"--stride {stride} > --window {window} would leave bases unscored")
    if hidden is not False and hidden is not True:  # an embeddings path: check its name before loading
        embedding_format(hidden)
    dev = resolve_device(device)
    chunk = chunk_size or (DEFAULT_CHUNK_CUDA if dev.type == "cuda" else DEFAULT_CHUNK)
    m = as_model(model, dev)
    if hidden and getattr(m, "model_type", None) == "markov":
        raise GenomambaError(f"--embeddings: {model} is a Markov model, which has no hidden states")
    reader = FastaReader(fasta, progress=progress)
    names = reader.names
    if records:
        wanted = records.split(",") if isinstance(records, str) else list(records)
        missing = [n for n in wanted if n not in reader]
        if missing:
            raise GenomambaError(f"{fasta}: no record(s) {', '.join(map(repr, missing))}; "
                                 f"its records: {preview_names(names)}")
        names = wanted
    pack = pack and getattr(m, "packed_scoring", False)
    return FastaRun(m, reader, str(fasta), list(names), window, stride, both_strands, batch_size, chunk, dev, bool(hidden),
                    pack)


def fasta_columns(window: int | None) -> list[str]:
    """Columns of the FASTA scores TSV (and of `genomamba.api.score_fasta`'s DataFrame)."""
    if window:
        return ["name", "start", "end", "bits_per_base", "n_count", "scored_bases"]
    return ["name", "length", "bits_per_base", "n_count", "scored_bases"]


def fasta_fields(row: Summary, window: int | None) -> list:
    """One TSV row's values (bits per base as a float; the TSV writes it with 6 decimals)."""
    if window:
        return [row.name, row.start, row.end, row.bits_per_base, row.n_count, row.scored]
    return [row.name, row.end - row.start, row.bits_per_base, row.n_count, row.scored]


def _tsv_line(row: Summary, window: int | None) -> str:
    fields = fasta_fields(row, window)
    return "\t".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in fields) + "\n"


def fasta_rows(
    run: FastaRun, names: Sequence[str] | None = None, *, progress: Callable[[int], None] | None = None,
    tracks: BedGraphWriter | None = None, on_record_end: Callable[[], None] | None = None,
) -> Iterator[Summary]:
    """Summaries (per record or window) of `names` (default all), feeding `tracks` on the way.

    `on_record_end()` runs after a record's last track line and before its last summary comes
    out, so a writer can make a record's outputs durable together (what `--resume` relies on).
    """
    chunks = score_records(
        run.model, run.reader, run.names if names is None else names, batch_size=run.batch_size,
        chunk=run.chunk, device=run.device, both_strands=run.both_strands, hidden=run.hidden, progress=progress,
        pack=run.pack,
    )

    def tee():
        for c in chunks:
            if tracks is not None:
                tracks.add(c.name, c.start, c.ll)
                if c.last:
                    tracks.end_record()
            if c.last and on_record_end is not None:
                on_record_end()
            yield c

    yield from summarize(tee(), run.window, run.stride)


def _resume_fasta(run: FastaRun, tsv: Output, tracks: Output | None) -> int:
    """Records of a partial TSV (and track) output that are complete, cut back to a batch-group
    boundary (so the rest is scored in the same model calls); both partials truncated to them."""
    header = "\t".join(fasta_columns(run.window)) + "\n"
    data = tsv.path.read_bytes()
    if not data:
        return 0
    if not data.startswith(header.encode()):
        raise GenomambaError(f"{tsv.path}: the partial output was written with other options; "
                             f"run without --resume to start again")
    lengths = run.reader.lengths
    offsets = [len(header)]  # byte offset after each complete record
    pos, i = len(header), 0
    for line in data[len(header) :].splitlines(keepends=True):
        if not line.endswith(b"\n") or i >= len(run.names):
            break
        cols = line.decode().split("\t")
        pos += len(line)
        if cols[0] != run.names[i]:
            break
        if not run.window or int(cols[2]) == lengths[run.names[i]]:
            i += 1
            offsets.append(pos)
    done, boundary = 0, 0
    for _, group in batch_groups(run.reader, run.names, run.chunk, run.batch_size, pack=run.pack,
                                 strands=2 if run.both_strands else 1):
        if boundary + len(group) > i:
            break
        boundary += len(group)
    done = boundary
    with open(tsv.path, "r+b") as f:
        f.truncate(offsets[done])
    if tracks is not None:
        kept = set(run.names[:done])
        keep = 0
        with open(tracks.path, "rb") as f:
            for n, line in enumerate(f):
                if n > 0 and (not line.endswith(b"\n") or line.split(b"\t", 1)[0].decode() not in kept):
                    break
                keep += len(line) if line.endswith(b"\n") else 0
        if done and keep == 0:
            raise GenomambaError(f"{tracks.path}: no partial track to resume; run without --resume")
        with open(tracks.path, "r+b") as f:
            f.truncate(keep)
    return done


def write_fasta(
    run: FastaRun, output: str | Path, *, tracks: str | Path | None = None, embeddings: str | Path | None = None,
    resume: bool = False, progress: Callable[[int], None] | None = None,
    set_total: Callable[[int], None] | None = None, model_path: str | Path | None = None,
    stage: Callable[[str], None] | None = None,
) -> int:
    """Score `run` into the TSV `output` (+ bedGraph/bigWig `tracks`, + `embeddings`); rows written.

    Raises:
        GenomambaError: an output that is an input, `--resume` with embeddings, bad names.
    """
    check_not_inputs({"-o": output, "--tracks": tracks, "--embeddings": embeddings},
                     [run.fasta] + ([model_path] if model_path else []))
    if tracks is not None:
        check_track_name(tracks)
    emb_fmt = embedding_format(embeddings) if embeddings else None
    if resume and embeddings:
        raise GenomambaError("--resume cannot continue --embeddings (Parquet and .npz are written whole); "
                             "score the embeddings in a run of their own")
    sizes = {n: run.reader.lengths[n] for n in run.names}
    rows = 0
    with AtomicOutputs() as outs, run.reader:
        tsv_out = outs.add(output, resumable=True, finish=compressor(output))
        tr_out = outs.add(tracks, resumable=True, finish=track_finisher(tracks, sizes)) if tracks else None
        emb_out = outs.add(embeddings) if embeddings else None
        done = _resume_fasta(run, tsv_out, tr_out) if resume and not tsv_out.stream else 0
        names = run.names[done:]
        if done and stage is not None:
            stage(f"resuming: {done} records already in the partial output, {len(names)} to score")
        if set_total is not None:
            set_total(run.total_bases(names))
        tsv = open(tsv_out.path, "a" if done else "w")
        tr = (BedGraphWriter(open(tr_out.path, "a" if done else "w"), Path(run.fasta).name, header=not done)
              if tr_out else None)
        embs = EmbeddingWriter(emb_out.path, emb_fmt) if emb_out else None
        if not done:
            tsv.write("\t".join(fasta_columns(run.window)) + "\n")

        def durable():  # track lines first, so a TSV row never outlives its record's track
            if tr is not None:
                tr._f.flush()

        try:
            for row in fasta_rows(run, names, progress=progress, tracks=tr, on_record_end=durable):
                tsv.write(_tsv_line(row, run.window))
                rows += 1
                if row.end == run.reader.lengths[row.name]:
                    tsv.flush()
                if embs is not None:
                    embs.add(row.name, row.start, row.end, row.embedding)
        finally:
            tsv.close()
            if tr is not None:
                tr.close()
            if embs is not None:
                embs.close()
    return rows


# --------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------


@dataclass
class VariantRun:
    """A checked variant scoring job: the engines, the header and the records to score."""

    scorer: object  # VariantScorer
    head: object | None  # HeadScorer
    header: VariantHeader
    records: Iterator[VariantRecord]
    total: int | None
    genome: FastaReader
    inputs: list[str]

    def score_keys(self) -> list[str]:
        return list(self.scorer.rules) + (self.head.info_keys() if self.head else [])


def prepare_variants(
    model, reference: str | Path, variants: str | Path, *, window: int | None = None, strands: str = "forward",
    head: str | Path | None = None, rules: Sequence[str] | str | None = None, batch_size: int = 16,
    device: str | torch.device | None = "auto", unknown_contig: str = "error", log_base: str = "e",
    limit: int | None = None, count: bool = True, progress: bool = True, state_cache: bool = True,
) -> VariantRun:
    """Check the options, load the model (and head), open the reference and the variants.

    `window=None` takes the model's own window (`scoring.variants.default_window`);
    `state_cache=False` runs every alt window whole (`VariantScorer`: same scores, more work).

    Raises:
        GenomambaError: window < 2, batch_size or limit < 1, unknown rule names.
    """
    from genomamba.scoring.zero_shot import RULES, VariantScorer

    if window is not None and (not isinstance(window, int) or window < 2):
        raise GenomambaError(f"--window must be an integer >= 2, got {window!r}")
    _positive("--batch-size", batch_size)
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise GenomambaError(f"--limit must be >= 0, got {limit!r}")
    names = rules.split(",") if isinstance(rules, str) else list(rules or RULES)
    unknown = [r for r in names if r not in RULES]
    if unknown:
        raise GenomambaError(f"--rules: unknown {', '.join(unknown)}; known: {', '.join(RULES)}")
    dev = resolve_device(device)
    m = as_model(model, dev)
    genome = FastaReader(reference, progress=progress)
    header, records = read_variants(variants)
    total = count_records(variants) if count else None
    if limit is not None:
        records = islice(records, limit)
        total = limit if total is None else min(total, limit)
    scorer = VariantScorer(m, genome, window=window, strands=strands, batch_size=batch_size, device=dev,
                           rules=names, log_base=log_base, unknown_contig=unknown_contig, state_cache=state_cache)
    head_scorer = None
    if head:
        from genomamba.scoring.head_scoring import HeadScorer

        head_scorer = HeadScorer(head, genome, batch_size=batch_size, device=dev)
    inputs = [str(reference), str(variants)] + [str(p) for p in (model, head) if isinstance(p, (str, Path))]
    return VariantRun(scorer, head_scorer, header, records, total, genome, inputs)


def scored_variants(run: VariantRun, skip: int = 0) -> Iterator[VariantRecord]:
    """Every record in input order with its scores in `rec.info` (after the first `skip`)."""
    records = islice(run.records, skip, None) if skip else run.records
    scored = run.scorer.score(records)
    return run.head.score(scored) if run.head else scored


def write_variants(
    run: VariantRun, output: str | Path, *, command: Sequence[str] | None = None, resume: bool = False,
    progress: Callable[[int], None] | None = None, set_total: Callable[[int | None], None] | None = None,
    stage: Callable[[str], None] | None = None,
) -> tuple[int, str]:
    """Write the scored variants to `output` (.vcf[.gz], .tsv[.gz], `-`); returns (records, note).

    `command` (the user's arguments) is recorded in a `##genomamba_scoreCommand` header line.
    """
    from genomamba.scoring.zero_shot import FILTER_LINES

    check_not_inputs({"-o": output}, run.inputs)
    out = str(output)
    if out.endswith((".tsv", ".tsv.gz")):
        writer = TsvWriter(out, run.header, run.score_keys(), resume=resume)
    else:
        meta = []
        if command is not None:
            text = " ".join(shlex.quote(str(a)) for a in command)
            meta = [f"##genomamba_scoreCommand={text} --window {run.scorer.window} --strands {run.scorer.strands}"]
        info = run.scorer.info_header_lines() + (run.head.info_header_lines() if run.head else [])
        writer = VcfWriter(out, run.header, info, FILTER_LINES, meta, contigs=run.genome.lengths, resume=resume)
    n = writer.resumed
    if set_total is not None and run.total is not None:
        set_total(max(run.total - n, 0))
    if stage is not None and n:
        stage(f"resuming after {n} records already in the partial output")
    with writer:
        for rec in scored_variants(run, skip=n):
            writer.write(rec)
            n += 1
            if progress is not None:
                progress(1)
        if stage is not None:
            stage(f"writing {output}")
    return n, writer.note
