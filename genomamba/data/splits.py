"""Leakage-free k-fold splits of variants by genomic block.

Neighbouring variants share most of their sequence context (a W-bp window around each), so a
random split leaks: the model sees nearly the same input in train and test. Variants are instead
grouped into blocks, either contiguous `block_size`-bp bins (`chrom`, `start // block_size`) or
the intervals of a BED file, and whole blocks are assigned to folds. Every block's variants are in
one fold, so no train and test variant ever share a block (cf. chromosome- or region-held-out
evaluation in GPN and Nucleotide Transformer benchmarks). Use a block size at least the window W
so that two variants less than W apart are mostly in one block.

Assignment is deterministic for a seed: blocks are shuffled, then placed largest first into the
fold with the fewest variants so far (balanced folds). Coordinates are 0-based.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from genomamba.errors import ConfigError
from genomamba.io.intervals import Interval, merge, read_bed

__all__ = ["block_keys", "assign_folds", "fold_indices"]


def block_keys(
    chroms: Sequence[str], starts: Sequence[int], block_size: int | None = None, bed: str | Sequence[Interval] | None = None
) -> list[tuple]:
    """The block of each variant: `(chrom, start // block_size)` or `(chrom, bed_start, bed_end)`.

    With a BED, a variant outside every interval falls back to its `block_size` bin, or raises
    when no block size is given.

    Raises:
        ConfigError: neither `block_size` nor `bed`, a block size < 1, or an uncovered variant.
    """
    if block_size is None and bed is None:
        raise ConfigError("splits: give block_size (bp) or a BED of blocks")
    if block_size is not None and block_size < 1:
        raise ConfigError(f"splits: block_size must be >= 1 bp, got {block_size}")
    by_chrom: dict[str, list[Interval]] = {}
    if bed is not None:
        ivs = read_bed(bed) if isinstance(bed, str) or hasattr(bed, "__fspath__") else list(bed)
        for iv in merge(ivs):  # overlapping BED lines would make a variant's block ambiguous
            by_chrom.setdefault(iv.chrom, []).append(iv)
    starts_by_chrom = {c: [iv.start for iv in ivs] for c, ivs in by_chrom.items()}
    keys: list[tuple] = []
    for chrom, start in zip(chroms, starts):
        start = int(start)
        ivs = by_chrom.get(chrom)
        if ivs:
            i = bisect.bisect_right(starts_by_chrom[chrom], start) - 1
            if i >= 0 and ivs[i].start <= start < ivs[i].end:
                keys.append((chrom, ivs[i].start, ivs[i].end))
                continue
        if block_size is None:
            raise ConfigError(f"splits: variant {chrom}:{start} (0-based) is in no BED block and no block_size is set")
        keys.append((chrom, start // block_size))
    return keys


def assign_folds(
    chroms: Sequence[str],
    starts: Sequence[int],
    n_folds: int,
    block_size: int | None = None,
    bed: str | Sequence[Interval] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Fold (0..n_folds-1) of every variant, whole blocks at a time.

    Returns:
        int64 `[n_variants]`.

    Raises:
        ConfigError: n_folds < 2, or fewer blocks than folds (some fold would be empty).
    """
    if n_folds < 2:
        raise ConfigError(f"splits: need at least 2 folds, got {n_folds}")
    keys = block_keys(chroms, starts, block_size, bed)
    blocks: dict[tuple, list[int]] = {}
    for i, k in enumerate(keys):
        blocks.setdefault(k, []).append(i)
    if len(blocks) < n_folds:
        raise ConfigError(
            f"splits: {len(blocks)} blocks for {n_folds} folds; use a smaller block size or fewer folds"
        )
    rng = np.random.default_rng(seed)
    order = [list(blocks)[j] for j in rng.permutation(len(blocks))]
    order.sort(key=lambda k: -len(blocks[k]))  # stable: ties keep the shuffled order
    sizes = np.zeros(n_folds, dtype=np.int64)
    folds = np.empty(len(keys), dtype=np.int64)
    for k in order:
        f = int(np.argmin(sizes))
        folds[blocks[k]] = f
        sizes[f] += len(blocks[k])
    return folds


def fold_indices(folds: np.ndarray, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices) for holding out `fold`."""
    folds = np.asarray(folds)
    return np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
