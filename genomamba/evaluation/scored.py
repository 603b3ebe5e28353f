"""Scored variant files as tables: a VCF (scores and label in INFO) or TSV (columns) that
`genomamba-score vcf` wrote, read into one row per ALT allele (a Number=A score of a
multi-allelic record gives one row per ALT; a label with one comma-separated value per ALT is
split the same way). Missing scores (`.`: REF mismatch, unknown contig, symbolic ALT) are NaN."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from genomamba.errors import VcfError
from genomamba.io.vcf import parse_info, read_variants, start_to_pos

__all__ = ["read_scored", "to_float"]


def read_scored(path: str | Path, label: str, scores: Sequence[str]) -> pd.DataFrame:
    """One row per ALT: columns chrom, pos (1-based), ref, alt, `label` (str; missing: NA) and each score (float).

    Args:
        path: scored VCF (plain or .gz) or TSV. label: INFO key or column of the label.
        scores: INFO keys or columns of the scores (TSV columns match case-insensitively).

    Raises:
        VcfError: a label or score that is neither an INFO field nor a column (names the file).
    """
    header, records = read_variants(path)
    keys = (label, *scores)
    if header.kind == "tsv":
        lower = [c.lower() for c in header.columns]
        for key in keys:
            if key.lower() not in lower:
                raise VcfError(f"{path}: no column {key!r} (columns: {', '.join(header.columns)})")
        idx = {k: lower.index(k.lower()) for k in keys}

        def fields(rec) -> dict:
            return {k: rec.fields[i] for k, i in idx.items()}
    else:
        declared = header.info_ids()
        for key in keys:
            if key not in declared:
                raise VcfError(f"{path}: no ##INFO line for {key!r} (declared: {', '.join(declared)})")

        def fields(rec) -> dict:
            return parse_info(rec.fields[7])

    cols: dict[str, list] = {"chrom": [], "pos": [], "ref": [], "alt": [], label: [], **{s: [] for s in scores}}
    for rec in records:
        row = fields(rec)
        n = max(len(rec.alts), 1)
        lab = _value(row, label)
        cols[label].extend(lab.split(",") if lab is not None and n > 1 and lab.count(",") == n - 1 else [lab] * n)
        for s in scores:
            v = _value(row, s)
            parts = v.split(",") if v is not None else ["."] * n
            cols[s].extend(to_float(x) for x in (parts if len(parts) == n else ["."] * n))
        cols["chrom"].extend([rec.chrom] * n)
        cols["pos"].extend([start_to_pos(rec.start)] * n)
        cols["ref"].extend([rec.ref] * n)
        cols["alt"].extend(rec.alts or ["."])
    frame = pd.DataFrame(cols)
    for s in scores:
        frame[s] = frame[s].astype(float)
    return frame


def to_float(v: str | None) -> float:
    """A VCF/TSV number; NaN for missing (None, ".") or unparsable values."""
    if v is None or v == ".":
        return math.nan
    try:
        return float(v)
    except ValueError:
        return math.nan


def _value(row: dict, key: str) -> str | None:
    v = row.get(key)
    return None if v in (None, "", ".", True) else v
