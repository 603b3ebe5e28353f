"""Per-base tracks: bedGraph text (plain, `.gz`) and bigWig (`.bw`/`.bigWig`, needs pyBigWig).

Coordinates are 0-based, end-exclusive, as in BED. `BedGraphWriter` streams runs of equal values
to a text file; a bigWig target is written as bedGraph first and converted when the run is
complete (`track_finisher`), so every track output is resumable and atomic the same way.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

import numpy as np

from genomamba.atomic import file_mode, temp_beside
from genomamba.errors import GenomambaError
from genomamba.io.compress import compress_onto, is_compressed_name

__all__ = ["BedGraphWriter", "is_bigwig_name", "check_track_name", "track_finisher", "bedgraph_to_bigwig"]

BIGWIG_SUFFIXES = (".bw", ".bigwig")
TRACK_SUFFIXES = (".bedgraph", ".bedgraph.gz", ".bedgraph.bgz", *BIGWIG_SUFFIXES)  # lower case


class BedGraphWriter:
    """Per-base log-likelihood as bedGraph (0-based, end-exclusive), values rounded to 4 decimals.

    Consecutive bases with the same rounded value become one line; unscored bases (NaN) get none.
    `end_record()` writes the run still held open, so a record's lines are all out once it ends.
    """

    def __init__(self, fh: TextIO, track_name: str, header: bool = True) -> None:
        self._f = fh
        if header:
            fh.write(f'track type=bedGraph name="{track_name}" description="per-base natural-log likelihood"\n')
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

    def end_record(self) -> None:
        if self._run is not None:
            self._emit([self._run])
            self._run = None

    def close(self) -> None:
        self.end_record()
        self._f.close()


def is_bigwig_name(name: str | Path) -> bool:
    return str(name).lower().endswith(BIGWIG_SUFFIXES)


def check_track_name(name: str | Path) -> None:
    """Fail early (before any scoring) on a name that is no track format (`x.tsv` would silently
    get bedGraph) and when a bigWig is asked for and pyBigWig is missing. Streams (`-`) are bedGraph."""
    from genomamba.atomic import is_stream

    if not is_stream(name) and not str(name).lower().endswith(TRACK_SUFFIXES):
        raise GenomambaError(f"--tracks {name}: unknown track format; name it .bedGraph, .bedGraph.gz (bgzip) "
                             f"or .bw/.bigWig")
    if is_bigwig_name(name) and importlib.util.find_spec("pyBigWig") is None:
        raise GenomambaError(f"--tracks {name}: writing bigWig needs pyBigWig (pip install 'genomamba[tracks]' "
                             f"or pip install pyBigWig), or give a .bedGraph[.gz] name instead")


def bedgraph_to_bigwig(bedgraph: Path, target: Path, chrom_sizes: Mapping[str, int], batch: int = 1 << 16) -> None:
    """Convert a sorted bedGraph (our own output) to bigWig at `target`, streaming in batches."""
    import pyBigWig

    tmp = temp_beside(target, ".bw")
    bw = pyBigWig.open(str(tmp), "w")
    try:
        bw.addHeader([(k, int(v)) for k, v in chrom_sizes.items()])
        with open(bedgraph) as f:
            next(f, None)  # the track line
            while rows := [line.split("\t") for line in itertools.islice(f, batch)]:
                bw.addEntries([r[0] for r in rows], [int(r[1]) for r in rows], ends=[int(r[2]) for r in rows],
                              values=[float(r[3]) for r in rows])
        bw.close()
        bw = None
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    finally:
        if bw is not None:
            bw.close()
        tmp.unlink(missing_ok=True)


def track_finisher(target: str | Path, chrom_sizes: Mapping[str, int]) -> Callable[[Path, Path], None] | None:
    """How a finished bedGraph temporary becomes `target`: bigWig, bgzip/gzip, or a plain rename."""
    if is_bigwig_name(target):
        return lambda plain, final: bedgraph_to_bigwig(plain, final, chrom_sizes)
    if is_compressed_name(target):
        return lambda plain, final: compress_onto(plain, final) and None
    return None
