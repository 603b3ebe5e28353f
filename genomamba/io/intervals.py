"""Genomic intervals and BED files. Coordinates are 0-based, end-exclusive (half-open), as in BED.

`Interval(chrom, start, end, name=None)` is the one interval type; `read_bed`/`write_bed` move
them to and from BED (3 or 4+ columns; extra columns are ignored on read), `merge` and
`subtract` are the set operations the data pipeline needs (e.g. genome minus gaps/blacklist), and
`tile` cuts one interval into training/inference windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from genomamba.atomic import atomic_write_text
from genomamba.errors import GenomambaError

__all__ = ["Interval", "BedError", "read_bed", "write_bed", "merge", "subtract", "tile"]


class BedError(GenomambaError, ValueError):
    """A malformed BED line (names the file and the 1-based line)."""


class Interval(NamedTuple):
    """`chrom[start:end]`, 0-based, end-exclusive; `name` is BED column 4 (None when absent)."""

    chrom: str
    start: int
    end: int
    name: str | None = None

    @property
    def length(self) -> int:
        """`end - start` (not `len()`, which stays the tuple arity so `_replace` keeps working)."""
        return self.end - self.start


def read_bed(path: str | Path) -> list[Interval]:
    """Read a BED file (0-based half-open; `track`, `browser`, `#` and blank lines skipped).

    Fields are tab-separated (any whitespace if a line has no tab). Column 4, if present and not
    ".", becomes `name`; further columns are ignored.

    Raises:
        BedError: fewer than 3 fields, non-integer coordinates, start < 0 or start >= end; the
            message names the file and the 1-based line.
    """
    out: list[Interval] = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) < 3:
                raise BedError(f"{path}: line {lineno}: expected at least 3 fields, got {len(fields)}")
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise BedError(
                    f"{path}: line {lineno}: start/end must be integers, got {fields[1]!r}, {fields[2]!r}"
                ) from None
            if start < 0 or start >= end:
                raise BedError(f"{path}: line {lineno}: need 0 <= start < end, got [{start}, {end})")
            name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else None
            out.append(Interval(fields[0], start, end, name))
    return out


def write_bed(intervals: Iterable[Interval], path: str | Path) -> None:
    """Write intervals as BED atomically (temp file + rename).

    Writes 3 columns, or 4 if any interval has a name ("." for those without).
    """
    intervals = list(intervals)
    with_names = any(iv.name is not None for iv in intervals)
    lines = []
    for iv in intervals:
        cols = [iv.chrom, str(iv.start), str(iv.end)]
        if with_names:
            cols.append(iv.name if iv.name is not None else ".")
        lines.append("\t".join(cols) + "\n")
    atomic_write_text(path, "".join(lines))


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping and book-ended intervals (like `bedtools merge`).

    Returns:
        Disjoint, non-adjacent intervals without names, chromosomes in order of first appearance,
        sorted by start within a chromosome.
    """
    by_chrom: dict[str, list[tuple[int, int]]] = {}
    for iv in intervals:
        by_chrom.setdefault(iv.chrom, []).append((iv.start, iv.end))
    out: list[Interval] = []
    for chrom, spans in by_chrom.items():
        spans.sort()
        cur_s, cur_e = spans[0]
        for s, e in spans[1:]:
            if s <= cur_e:
                cur_e = max(cur_e, e)
            else:
                out.append(Interval(chrom, cur_s, cur_e))
                cur_s, cur_e = s, e
        out.append(Interval(chrom, cur_s, cur_e))
    return out


def subtract(whole: Mapping[str, int] | Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """Remove `holes` from `whole`.

    Args:
        whole: {chrom: length} (each chromosome taken as `[0, length)`, e.g. `FastaReader.lengths`)
            or intervals.
        holes: intervals to remove (any order, may overlap).

    Returns:
        The non-empty pieces of `whole` outside every hole, in the order of `whole`, each keeping
        its interval's name.
    """
    if isinstance(whole, Mapping):
        whole = [Interval(c, 0, n) for c, n in whole.items() if n > 0]
    cuts: dict[str, list[tuple[int, int]]] = {}
    for h in merge(holes):
        cuts.setdefault(h.chrom, []).append((h.start, h.end))
    out: list[Interval] = []
    for iv in whole:
        pos = iv.start
        for s, e in cuts.get(iv.chrom, ()):
            if e <= pos:
                continue
            if s >= iv.end:
                break
            if s > pos:
                out.append(Interval(iv.chrom, pos, s, iv.name))
            pos = max(pos, e)
        if pos < iv.end:
            out.append(Interval(iv.chrom, pos, iv.end, iv.name))
    return out


def tile(interval: Interval | tuple[str, int, int], window: int, stride: int) -> Iterator[tuple[int, int]]:
    """Cut `interval` into windows `[start, end)` that together cover every base.

    Windows start at `interval.start, + stride, + 2*stride, ...` and are exactly `window` long,
    except the last one, which is clipped to `interval.end` (so it may be shorter); tiling stops at
    the first window that reaches the end. With `stride == window` the windows cover the interval
    with no gap and no overlap; with `stride < window` consecutive windows overlap by
    `window - stride`. An empty interval yields nothing.

    Args:
        interval: `Interval` or `(chrom, start, end)`.
        window: window length, > 0.
        stride: step between window starts, `0 < stride <= window`.

    Yields:
        `(start, end)` pairs, 0-based end-exclusive, in increasing order.

    Raises:
        ValueError: `window <= 0`, `stride <= 0`, or `stride > window` (which would leave gaps).
    """
    if window <= 0 or stride <= 0:
        raise ValueError(f"window and stride must be positive, got window={window}, stride={stride}")
    if stride > window:
        raise ValueError(f"stride={stride} > window={window} would leave bases uncovered")
    start, end = interval[1], interval[2]
    s = start
    while s < end:
        e = s + window
        if e >= end:
            yield s, end
            return
        yield s, e
        s += stride


def place_window(start: int, end: int, length: int, window: int) -> tuple[int, int]:
    """Reference window `[ws, we)` of width `window` centred on the allele `[start, end)`.

    Clipped to `[0, length)` by sliding, and widened when the allele is longer than `window`.
    """
    ws = (start + end - window) // 2
    ws = max(0, min(ws, length - window))
    ws = min(ws, start)
    we = max(min(length, ws + window), end)
    return ws, we
