"""The public analysis API: a few functions that return pandas DataFrames and numpy arrays.

    import genomamba.api as gm
    model = gm.load_model("outputs/demo/model")
    df = gm.score_fasta(model, "genome.fa.gz", window=1000)          # the rows of `fasta -o x.tsv`
    ll = gm.likelihood_track(model, "genome.fa.gz", "chr1", 0, 10_000)  # per-base log-likelihoods
    meta, emb = gm.embeddings(model, "genome.fa.gz", window=1000)     # DataFrame + [rows, D] array
    variants = gm.score_variants(model, "ref.fa", "in.vcf")          # one row per ALT

`model` is a loaded model or a model directory path. Every function runs the same library
iterators as `genomamba-score` (`genomamba.scoring.runs`), so a DataFrame and the CLI's file
always hold the same values. Long calls show a `tqdm.auto` progress bar, or log lines where
stderr is no terminal (`genomamba.progress`; `progress=False`: none).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genomamba.device import resolve_device
from genomamba.io.fasta import FastaReader
from genomamba.io.vcf import add_filter, parse_info, start_to_pos
from genomamba.models.loading import load_model
from genomamba.scoring.likelihood import score_sequence
from genomamba.scoring.runs import (
    as_model,
    fasta_columns,
    fasta_fields,
    fasta_rows,
    prepare_fasta,
    prepare_variants,
    scored_variants,
)

__all__ = ["load_model", "score_fasta", "likelihood_track", "embeddings", "score_variants"]


def _bar(desc: str, total: int | None, unit: str, progress: bool):
    from genomamba.progress import stage

    return stage(desc, total, unit, enabled=progress, unit_scale=unit == "bp")


def score_fasta(
    model, fasta: str | Path, *, window: int | None = None, stride: int | None = None,
    records: Sequence[str] | None = None, both_strands: bool = False, device: str | torch.device = "auto",
    batch_size: int = 8, progress: bool = True,
) -> pd.DataFrame:
    """Bits per base per record (or per `window`), the rows `genomamba-score fasta` writes.

    Returns:
        Columns `name, length, bits_per_base, n_count, scored_bases` (with `window`: `name,
        start, end, bits_per_base, n_count, scored_bases`), one row per record or window.
    """
    run = prepare_fasta(model, fasta, window=window, stride=stride, records=records, both_strands=both_strands,
                        batch_size=batch_size, device=device, progress=progress)
    with run.reader, _bar("score_fasta", run.total_bases(), "bp", progress) as done:
        rows = [fasta_fields(r, window) for r in fasta_rows(run, progress=done)]
    return pd.DataFrame(rows, columns=fasta_columns(window))


def likelihood_track(
    model, fasta: str | Path, record: str, start: int | None = None, end: int | None = None, *,
    both_strands: bool = False, device: str | torch.device = "auto",
) -> np.ndarray:
    """Per-base natural-log likelihood of `record[start:end]` (0-based, end-exclusive).

    Returns:
        float32 `[end - start]`; NaN at the first base (no context) and at N bases, as in the
        `--tracks` bedGraph.
    """
    dev = resolve_device(device)
    m = as_model(model, dev)
    with FastaReader(fasta) as reader:
        pieces = [c.ll for c in score_sequence(m, reader, record, start or 0, end, device=dev,
                                               both_strands=both_strands)]
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


def embeddings(
    model, fasta: str | Path, *, window: int | None = None, stride: int | None = None,
    records: Sequence[str] | None = None, device: str | torch.device = "auto", batch_size: int = 8,
    progress: bool = True,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Mean-pooled final hidden states per record (or window), as `fasta --embeddings` writes them.

    Returns:
        (DataFrame with columns `name, start, end`, float32 array `[rows, D]`), row i of the array
        belonging to row i of the frame.
    """
    run = prepare_fasta(model, fasta, window=window, stride=stride, records=records, batch_size=batch_size,
                        device=device, hidden=True, progress=progress)
    meta, embs = [], []
    with run.reader, _bar("embeddings", run.total_bases(), "bp", progress) as done:
        for r in fasta_rows(run, progress=done):
            meta.append((r.name, r.start, r.end))
            embs.append(r.embedding)
    array = np.stack(embs).astype(np.float32) if embs else np.zeros((0, 0), np.float32)
    return pd.DataFrame(meta, columns=["name", "start", "end"]), array


def _float(value: str) -> float:
    return math.nan if value in ("", ".") else float(value)


def score_variants(
    model, reference: str | Path, variants: str | Path, *, window: int | None = None, strands: str = "forward",
    head: str | Path | None = None, rules: Sequence[str] | None = None, device: str | torch.device = "auto",
    batch_size: int = 16, unknown_contig: str = "flag", progress: bool = True,
) -> pd.DataFrame:
    """Zero-shot scores (and head probabilities) per ALT, the values `genomamba-score vcf` writes.

    `unknown_contig`: "flag" (default here, so one stray contig does not lose a notebook's whole
    table: its rows get FILTER `UNKNOWN_CONTIG` and NaN scores) or "error" (`VcfError`, the CLI's
    default, where a file is written and a silent gap would be missed).

    Returns:
        One row per ALT: `chrom, pos` (1-based, as in the VCF), `ref, alt, filter` (`PASS`, or the
        input's and scoring's FILTERs joined by `;`), one float column per score (`GM_LLR`,
        `GM_DELTA`, with `head` `GM_HEAD` and `GM_HEAD_<class>`; NaN where not scored), then the
        input's own INFO fields (VCF) or extra columns (TSV), as strings.
    """
    run = prepare_variants(model, reference, variants, window=window, strands=strands, head=head, rules=rules,
                           batch_size=batch_size, device=device, unknown_contig=unknown_contig, progress=progress)
    keys = run.score_keys()
    tsv = run.header.kind == "tsv"
    extra_cols = list(run.header.columns) if tsv else []
    rows = []
    with _bar("score_variants", run.total, "variants", progress) as done:
        for rec in scored_variants(run):
            done(1)
            if tsv:  # as TsvWriter writes it
                given, filt = dict(zip(extra_cols, rec.fields)), ";".join(rec.filters) or "PASS"
            else:  # as VcfWriter writes the FILTER column
                given = {k: v for k, v in parse_info(rec.fields[7]).items() if k not in keys}
                filt = rec.fields[6]
                for f in rec.filters:
                    filt = add_filter(filt, f)
            values = {k: rec.info.get(k, "").split(",") for k in keys}
            for i, alt in enumerate(rec.alts or ["."]):
                row = {"chrom": rec.chrom, "pos": start_to_pos(rec.start), "ref": rec.ref, "alt": alt, "filter": filt}
                for k in keys:
                    row[k] = _float(values[k][i]) if i < len(values[k]) else math.nan
                row.update({k: v for k, v in given.items() if k not in row})
                rows.append(row)
    return pd.DataFrame(rows)
