from collections import Counter

import numpy as np
import pytest

from genomamba.alphabet import reverse_complement
from genomamba.data import GenomeWindowDataset, RandomWindows, make_splits, tile_windows
from genomamba.data.datamodule import ResumableSampler
from genomamba.data.windows import Window, evenly_spaced
from genomamba.errors import ConfigError
from genomamba.io.fasta import GenomeSet
from genomamba.io.intervals import Interval


@pytest.mark.parametrize("length,window,stride", [(200, 64, 64), (150, 7, 7), (37, 100, 100), (1000, 33, 10)])
def test_tiling_covers_record_without_gap_or_overlap(length, window, stride):
    tiles = tile_windows([Interval("r", 0, length)], window, stride)
    covered = np.zeros(length, dtype=int)
    for w in tiles:
        covered[w.start:w.end] += 1
    assert covered.min() >= 1
    if stride == window:
        assert covered.max() == 1 and sum(w.end - w.start for w in tiles) == length


def test_random_windows_are_a_pure_function_of_index_and_inside_intervals():
    ivs = [Interval("a", 0, 1000), Interval("b", 100, 400)]
    a, b = RandomWindows(ivs, 50, seed=3, rc_prob=0.5), RandomWindows(ivs, 50, seed=3, rc_prob=0.5)
    draws = [a.draw(i) for i in range(2000)]
    assert draws[::-1] == [b.draw(i) for i in reversed(range(2000))]
    assert draws != [RandomWindows(ivs, 50, seed=4).draw(i) for i in range(2000)]
    by = {iv.chrom: iv for iv in ivs}
    for w in draws:
        assert by[w.chrom].start <= w.start and w.end <= by[w.chrom].end and w.end - w.start == 50
    counts = Counter(w.chrom for w in draws)  # weighted by usable length: 951 vs 251
    assert 0.72 < counts["a"] / len(draws) < 0.86
    assert 0.4 < sum(w.reverse for w in draws) / len(draws) < 0.6


def test_splits_do_not_overlap_and_cover_the_genome():
    lengths = {"a": 1000, "b": 300}
    train, valid = make_splits(lengths, valid_fraction=0.1)
    assert valid == [Interval("a", 900, 1000), Interval("b", 270, 300)]
    assert sorted(train) == [Interval("a", 0, 900), Interval("b", 0, 270)]
    train, valid = make_splits(lengths, valid_records=["b"])
    assert train == [Interval("a", 0, 1000)] and valid == [Interval("b", 0, 300)]
    with pytest.raises(ConfigError, match="valid_records"):
        make_splits(lengths, valid_records=["nope"])


def test_dataset_reads_reverse_complement_and_pads(tiny_fa):
    genome = GenomeSet([tiny_fa])
    fwd = Window("chr1", 10, 60)
    ds = GenomeWindowDataset(genome, 64, windows=[fwd, fwd._replace(reverse=True), Window("chrM", 0, 37)])
    f, r, short = ds[0]["tokens"].numpy(), ds[1]["tokens"].numpy(), ds[2]["tokens"].numpy()
    assert np.array_equal(r[:50], reverse_complement(f[:50]))
    assert (short[37:] == 5).all() and (short[:37] < 5).all()


def _epoch(sampler: ResumableSampler, epoch: int) -> list[int]:
    sampler.set_epoch(epoch)
    return list(sampler)


def test_sampler_shards_are_disjoint_and_complete():
    shards = [_epoch(ResumableSampler(100, rank, 4), 1) for rank in range(4)]
    flat = sorted(i for s in shards for i in s)
    assert flat == list(range(100, 200))
    assert all(len(s) == 25 for s in shards)


def test_sampler_moves_on_every_epoch_and_skips_only_what_a_resumed_run_saw():
    fresh, resumed = ResumableSampler(8), ResumableSampler(8, seen=11)
    assert [_epoch(fresh, e) for e in range(3)] == [list(range(0, 8)), list(range(8, 16)), list(range(16, 24))]
    assert _epoch(resumed, 1) == list(range(11, 16)) and _epoch(resumed, 2) == list(range(16, 24))
    assert len(resumed) == 8  # the whole epoch: Lightning counts the skipped batches as done


def test_evenly_spaced():
    assert evenly_spaced(list(range(10)), 3) == [0, 4, 9] or evenly_spaced(list(range(10)), 3) == [0, 5, 9]
    assert evenly_spaced([1, 2], None) == [1, 2]
