"""Position-blocked folds: whole blocks go to one fold, so train and test never share a block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genomamba.data.splits import assign_folds, block_keys, fold_indices
from genomamba.errors import ConfigError
from genomamba.io.vcf import read_variants

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _random_variants(n: int = 400, seed: int = 1) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    chroms = rng.choice(["chr1", "chr2", "chr3"], n).tolist()
    starts = rng.integers(0, 20_000, n).tolist()
    return chroms, starts


@pytest.mark.parametrize("n_folds", [2, 5])
def test_blocks_are_never_split_across_folds(n_folds):
    chroms, starts = _random_variants()
    block = 1000
    folds = assign_folds(chroms, starts, n_folds, block_size=block, seed=3)
    fold_of_block: dict[tuple, int] = {}
    for c, s, f in zip(chroms, starts, folds):
        key = (c, s // block)
        assert fold_of_block.setdefault(key, int(f)) == f, f"block {key} has variants in folds {fold_of_block[key]} and {f}"
    for f in range(n_folds):
        train, test = fold_indices(folds, f)
        assert len(test) > 0 and len(train) + len(test) == len(starts)
        train_blocks = {(chroms[i], starts[i] // block) for i in train}
        test_blocks = {(chroms[i], starts[i] // block) for i in test}
        assert not train_blocks & test_blocks, f"fold {f}: train and test share blocks {train_blocks & test_blocks}"


def test_folds_are_deterministic_and_balanced():
    chroms, starts = _random_variants()
    a = assign_folds(chroms, starts, 5, block_size=500, seed=7)
    b = assign_folds(chroms, starts, 5, block_size=500, seed=7)
    c = assign_folds(chroms, starts, 5, block_size=500, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    sizes = np.bincount(a, minlength=5)
    assert sizes.min() > 0 and sizes.max() - sizes.min() <= 20, sizes


def test_bed_blocks_and_fallback(tmp_path):
    bed = tmp_path / "blocks.bed"
    bed.write_text("chr1\t0\t100\nchr1\t90\t300\nchr2\t0\t50\n")  # overlapping lines merge into one block
    keys = block_keys(["chr1", "chr1", "chr2", "chr2"], [5, 250, 10, 120], block_size=100, bed=str(bed))
    assert keys[0] == keys[1] == ("chr1", 0, 300)
    assert keys[2] == ("chr2", 0, 50)
    assert keys[3] == ("chr2", 1)  # outside the BED: its 100-bp bin
    with pytest.raises(ConfigError, match="chr2:120"):
        block_keys(["chr2"], [120], bed=str(bed))


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="block_size"):
        block_keys(["chr1"], [1])
    with pytest.raises(ConfigError, match="2 blocks for 5 folds"):
        assign_folds(["chr1"] * 4, [1, 2, 500, 501], 5, block_size=100)


def test_fixture_split_has_no_leakage():
    _, records = read_variants(FIXTURES / "tiny_labelled.vcf")
    recs = list(records)
    chroms, starts = [r.chrom for r in recs], [r.start for r in recs]
    folds = assign_folds(chroms, starts, 2, block_size=50, seed=0)
    train, test = fold_indices(folds, 0)
    assert {(chroms[i], starts[i] // 50) for i in train}.isdisjoint({(chroms[i], starts[i] // 50) for i in test})
