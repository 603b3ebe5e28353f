"""Intervals: tiling covers every base with no gap (and, for stride == window, no overlap); BED
round trip; merge and subtract."""

from __future__ import annotations

import itertools

import pytest

from genomamba.io.intervals import BedError, Interval, merge, read_bed, subtract, tile, write_bed

LENGTHS = [1, 2, 7, 63, 64, 65, 100, 1000, 1023, 1024, 1025]
WINDOWS = [1, 3, 64, 100, 1024]


@pytest.mark.parametrize("length", LENGTHS, ids=lambda n: f"N{n}")
@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: f"W{w}")
@pytest.mark.parametrize("offset", [0, 17], ids=lambda o: f"off{o}")
def test_tile_stride_equals_window_no_gap_no_overlap(length, window, offset):
    iv = Interval("chr1", offset, offset + length)
    tiles = list(tile(iv, window, window))
    assert tiles[0][0] == iv.start and tiles[-1][1] == iv.end
    for (s0, e0), (s1, e1) in itertools.pairwise(tiles):
        assert e0 == s1, f"gap or overlap between [{s0},{e0}) and [{s1},{e1})"
    assert all(e - s == window for s, e in tiles[:-1])
    assert 0 < tiles[-1][1] - tiles[-1][0] <= window
    assert sum(e - s for s, e in tiles) == length


@pytest.mark.parametrize("length", LENGTHS, ids=lambda n: f"N{n}")
@pytest.mark.parametrize("window,stride", [(4, 1), (4, 2), (4, 3), (64, 32), (100, 7), (1024, 512)],
                         ids=lambda v: str(v))
def test_tile_overlapping_covers_every_base(length, window, stride):
    tiles = list(tile(("chrX", 5, 5 + length), window, stride))
    covered = [0] * length
    for s, e in tiles:
        assert 5 <= s < e <= 5 + length
        for i in range(s, e):
            covered[i - 5] += 1
    assert all(c > 0 for c in covered), "a base is not covered"
    assert [s for s, _ in tiles] == list(range(5, 5 + stride * len(tiles), stride))
    assert all(e - s == window for s, e in tiles[:-1])
    assert tiles[-1][1] == 5 + length
    # tiling stops at the first window that reaches the end: no redundant tail windows
    assert len(tiles) == 1 or tiles[-2][1] < 5 + length


def test_tile_edge_cases():
    assert list(tile(Interval("c", 10, 10), 4, 4)) == []
    assert list(tile(Interval("c", 0, 10), 4, 4)) == [(0, 4), (4, 8), (8, 10)]
    assert list(tile(Interval("c", 0, 10), 20, 5)) == [(0, 10)]
    for bad in [(0, 1), (4, 0), (4, 5), (-1, -1)]:
        with pytest.raises(ValueError):
            list(tile(Interval("c", 0, 10), *bad))


def test_bed_round_trip(tmp_path):
    ivs = [Interval("chr1", 0, 10), Interval("chr1", 5, 25, "peak1"), Interval("chr2", 100, 101)]
    path = tmp_path / "x.bed"
    write_bed(ivs, path)
    assert read_bed(path) == ivs
    plain = [Interval("chrM", 1, 2), Interval("chr3", 7, 9)]
    write_bed(plain, path)
    assert path.read_text() == "chrM\t1\t2\nchr3\t7\t9\n"
    assert read_bed(path) == plain
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_read_bed_skips_headers_and_extra_columns(tmp_path):
    path = tmp_path / "h.bed"
    path.write_text("track name=x\nbrowser position chr1\n# comment\n\nchr1\t3\t8\tn1\t0\t+\r\nchr2 0 5\n")
    assert read_bed(path) == [Interval("chr1", 3, 8, "n1"), Interval("chr2", 0, 5)]


@pytest.mark.parametrize(
    "line,match",
    [("chr1\t5\n", "at least 3 fields"), ("chr1\tx\t5\n", "integers"), ("chr1\t5\t5\n", "start < end"),
     ("chr1\t9\t5\n", "start < end"), ("chr1\t-1\t5\n", "start < end")],
    ids=["two-fields", "non-int", "empty", "reversed", "negative"],
)
def test_read_bed_errors_name_file_and_line(tmp_path, line, match):
    path = tmp_path / "bad.bed"
    path.write_text("# header\nchr1\t0\t1\n" + line)
    with pytest.raises(BedError, match=match) as exc:
        read_bed(path)
    assert f"{path}: line 3" in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_merge():
    ivs = [Interval("b", 5, 9), Interval("a", 10, 20), Interval("a", 0, 5), Interval("a", 5, 7),
           Interval("a", 15, 30, "x"), Interval("a", 40, 41), Interval("b", 0, 2)]
    # chromosomes in order of first appearance ("b" first), starts sorted within each
    assert merge(ivs) == [Interval("b", 0, 2), Interval("b", 5, 9),
                          Interval("a", 0, 7), Interval("a", 10, 30), Interval("a", 40, 41)]
    assert merge([]) == []


def test_subtract_from_lengths_and_intervals():
    lengths = {"chr1": 100, "chr2": 50, "chr3": 10}
    holes = [Interval("chr1", 10, 20), Interval("chr1", 15, 30), Interval("chr1", 90, 200),
             Interval("chr2", 0, 50), Interval("chrZ", 0, 5)]
    assert subtract(lengths, holes) == [Interval("chr1", 0, 10), Interval("chr1", 30, 90),
                                        Interval("chr3", 0, 10)]
    named = [Interval("chr1", 5, 40, "w")]
    assert subtract(named, holes) == [Interval("chr1", 5, 10, "w"), Interval("chr1", 30, 40, "w")]
    assert subtract(lengths, []) == [Interval(c, 0, n) for c, n in lengths.items()]


def test_subtract_pieces_cover_exactly_the_complement():
    lengths = {"c": 500}
    holes = [Interval("c", s, s + w) for s, w in [(3, 10), (50, 1), (51, 4), (100, 300), (499, 1)]]
    keep = subtract(lengths, holes)
    in_hole = {i for h in holes for i in range(h.start, h.end)}
    kept = {i for k in keep for i in range(k.start, k.end)}
    assert kept == set(range(500)) - in_hole
    assert sum(k.length for k in keep) == len(kept)
