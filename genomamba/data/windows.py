"""Where training and evaluation windows come from: splits, random draws and tilings.

Coordinates are 0-based half-open. A random window is a pure function of (seed, index), so any
worker, rank or resumed run that asks for index i gets the same window: that is what makes the
data order deterministic and resumable without saving RNG state.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from genomamba.errors import ConfigError
from genomamba.io.intervals import Interval, read_bed, tile

_MASK64 = (1 << 64) - 1


class Window(NamedTuple):
    chrom: str
    start: int
    end: int
    reverse: bool = False  # reverse complement when read


def splitmix64(x: int) -> int:
    """One step of splitmix64 (Steele et al. 2014): a fast, well-mixed 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def make_splits(
    lengths: Mapping[str, int],
    *,
    valid_fraction: float = 0.0,
    valid_records: Sequence[str] = (),
    train_bed: str | None = None,
    valid_bed: str | None = None,
) -> tuple[list[Interval], list[Interval]]:
    """Train and validation intervals over one genome set, never overlapping.

    Priority: BED files where given; else whole records named in `valid_records` go to
    validation; else the last `valid_fraction` of every record is held back for validation.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise ConfigError(f"data.valid_fraction must be in [0, 1), got {valid_fraction}")
    unknown = [r for r in valid_records if r not in lengths]
    if unknown:
        raise ConfigError(f"data.valid_records: unknown records {unknown}; known: {list(lengths)[:10]}")
    if valid_bed:
        valid = read_bed(valid_bed)
    elif valid_records:
        valid = [Interval(r, 0, lengths[r]) for r in valid_records]
    else:
        valid = []
        for name, n in lengths.items():
            held = int(n * valid_fraction)
            if held:
                valid.append(Interval(name, n - held, n))
    if train_bed:
        train = read_bed(train_bed)
    else:
        from genomamba.io.intervals import subtract

        train = subtract(dict(lengths), valid)
    for iv in train + valid:
        if iv.chrom not in lengths or iv.end > lengths[iv.chrom]:
            raise ConfigError(f"interval {iv.chrom}:{iv.start}-{iv.end} is outside the genome set")
    return train, valid


class RandomWindows:
    """Window i, for any i >= 0: an interval drawn with probability proportional to the number of
    windows it holds (len - window + 1, at least 1), a uniform start inside it and a strand; the
    caller redraws (`attempt`) while the N fraction is over its limit.

    `window=None` (whole records): the window is the whole interval, drawn with probability
    proportional to its length; with a window, `by_length` also weighs intervals by their length
    (so records shorter than the window are drawn as often as their bases, not once each).
    """

    def __init__(self, intervals: Sequence[Interval], window: int | None, seed: int = 0, rc_prob: float = 0.0,
                 by_length: bool = False):
        if window is not None and window < 2:
            raise ConfigError(f"data.window must be >= 2, got {window}")
        self.intervals = [iv for iv in intervals if iv.end > iv.start]
        if not self.intervals:
            raise ConfigError("no training intervals: check the FASTA files and the splits")
        if window is None:
            window, by_length = max(iv.end - iv.start for iv in self.intervals), True
        self.window, self.seed, self.rc_prob = window, seed, rc_prob
        weights = np.array([iv.end - iv.start if by_length else max(iv.end - iv.start - window + 1, 1)
                            for iv in self.intervals], dtype=np.float64)
        self._cum = np.cumsum(weights).tolist()
        self._total = self._cum[-1]

    def draw(self, index: int, attempt: int = 0) -> Window:
        h1 = splitmix64((self.seed * 1_000_003 + index) * 64 + attempt)
        h2 = splitmix64(h1)
        pos = (h1 >> 11) * (self._total / (1 << 53))
        k = min(bisect.bisect_right(self._cum, pos), len(self.intervals) - 1)
        iv = self.intervals[k]
        span = max(iv.end - iv.start - self.window + 1, 1)
        start = iv.start + (h2 >> 11) % span
        end = min(start + self.window, iv.end)
        reverse = ((h2 & 0x7FF) / 2048.0) < self.rc_prob
        return Window(iv.chrom, start, end, reverse)


def tile_windows(intervals: Sequence[Interval], window: int, stride: int | None = None) -> list[Window]:
    """Deterministic tiling of every interval (the last window of each is clipped at its end)."""
    stride = stride or window
    return [Window(iv.chrom, s, e) for iv in intervals for s, e in tile(iv, window, stride)]


def evenly_spaced(items: Sequence, limit: int | None) -> list:
    """At most `limit` items spread evenly over the sequence (all of them when limit is None)."""
    if limit is None or len(items) <= limit:
        return list(items)
    idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in idx]
