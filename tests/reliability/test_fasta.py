"""Compressed FASTA cut short or corrupt: one-line `FastaError`s naming the file, never a silently
short genome or a zlib traceback; `progress=False` silences the gunzip bar (issue 9 item 7, 16 item 9)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pysam
import pytest
from Bio import bgzf

from genomamba.errors import FastaError
from genomamba.io.fasta import FastaReader, GenomeSet, index_fasta
from genomamba.models import MarkovLM

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY, TINY_BGZ, TINY_GZ = FIXTURES / "tiny.fa", FIXTURES / "tiny.fa.gz", FIXTURES / "tiny_plain.fa.gz"
# the empty block that ends every BGZF file (SAM spec 4.1.2)
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert str(path) in msg and "\n" not in msg, msg
    return msg


@pytest.fixture
def multiblock_bgzf(tmp_path) -> Path:
    """A BGZF FASTA of 3 records x 150 kbp (several 64 KiB blocks), as bgzip writes it."""
    rng = np.random.default_rng(1)
    plain = tmp_path / "big.fa"
    with open(plain, "w") as f:
        for i in range(3):
            s = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 150_000)].tobytes().decode()
            f.write(f">r{i}\n" + "".join(s[j:j + 60] + "\n" for j in range(0, len(s), 60)))
    path = tmp_path / "big.fa.gz"
    pysam.tabix_compress(str(plain), str(path))
    return path


def _block_starts(path: Path) -> list[int]:
    with open(path, "rb") as f:
        return [start for start, _, _, _ in bgzf.BgzfBlocks(f)]


def test_bgzf_truncated_at_block_boundary_is_an_error(multiblock_bgzf, tmp_path):
    starts = _block_starts(multiblock_bgzf)
    assert len(starts) > 4, "fixture must span several blocks"
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(multiblock_bgzf.read_bytes()[: starts[len(starts) // 2]])  # a whole number of blocks
    # the cut file is valid gzip: it would index and read as a shorter genome
    assert gzip.decompress(cut.read_bytes()).startswith(b">r0\n")
    with pytest.raises(FastaError, match="EOF") as exc:
        FastaReader(cut, cache_dir=tmp_path / "cache")
    _one_line_naming(exc, cut)
    assert not (tmp_path / "cut.fa.gz.fai").exists(), "no index of a truncated file"


def test_bgzf_without_eof_block_only(tmp_path):
    cut = tmp_path / "noeof.fa.gz"
    assert TINY_BGZ.read_bytes().endswith(BGZF_EOF)
    cut.write_bytes(TINY_BGZ.read_bytes()[: -len(BGZF_EOF)])
    with pytest.raises(FastaError, match="truncated") as exc:
        FastaReader(cut, cache_dir=tmp_path / "cache")
    _one_line_naming(exc, cut)


def test_bgzf_truncated_with_a_fresh_index_is_still_an_error(multiblock_bgzf, tmp_path):
    FastaReader(multiblock_bgzf, cache_dir=tmp_path / "cache")  # writes .fai and .gzi beside it
    data = multiblock_bgzf.read_bytes()
    multiblock_bgzf.write_bytes(data[: _block_starts(multiblock_bgzf)[-2]])
    old = multiblock_bgzf.with_name(multiblock_bgzf.name + ".fai").stat().st_mtime - 10
    os.utime(multiblock_bgzf, (old, old))  # the index looks fresh
    with pytest.raises(FastaError, match="EOF") as exc:
        FastaReader(multiblock_bgzf, cache_dir=tmp_path / "cache")
    _one_line_naming(exc, multiblock_bgzf)


def test_bgzf_block_corrupted_after_indexing(multiblock_bgzf, tmp_path):
    FastaReader(multiblock_bgzf, cache_dir=tmp_path / "cache")
    data = bytearray(multiblock_bgzf.read_bytes())
    middle = _block_starts(multiblock_bgzf)[3] + 500  # inside the deflate data of block 3
    data[middle:middle + 2] = bytes(b ^ 0xFF for b in data[middle:middle + 2])
    multiblock_bgzf.write_bytes(bytes(data))
    old = multiblock_bgzf.with_name(multiblock_bgzf.name + ".fai").stat().st_mtime - 10
    os.utime(multiblock_bgzf, (old, old))
    reader = FastaReader(multiblock_bgzf, cache_dir=tmp_path / "cache")
    with pytest.raises(FastaError, match="corrupt") as exc:
        for name, length in reader.lengths.items():
            reader.fetch(name, 0, length)
    _one_line_naming(exc, multiblock_bgzf)


def test_bgzf_cut_mid_block_index_fasta(multiblock_bgzf):
    multiblock_bgzf.write_bytes(multiblock_bgzf.read_bytes()[:100_000])
    with pytest.raises(FastaError) as exc:
        index_fasta(multiblock_bgzf)
    _one_line_naming(exc, multiblock_bgzf)


def test_plain_gzip_truncated(tmp_path):
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(TINY_GZ.read_bytes()[:-20])
    cache = tmp_path / "cache"
    with pytest.raises(FastaError, match="truncated or corrupt gzip") as exc:
        FastaReader(cut, cache_dir=cache)
    _one_line_naming(exc, cut)
    assert not list(cache.glob("*.fa")), "no partial decompressed copy left in the cache"


@pytest.mark.parametrize("where", ["deflate", "crc"])
def test_plain_gzip_corrupt(tmp_path, where):
    data = bytearray(gzip.compress(TINY.read_bytes() * 20))
    i = 10 if where == "deflate" else len(data) - 6  # the first deflate block header, or the CRC32 trailer
    data[i] ^= 0xFF
    bad = tmp_path / "bad.fa.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(FastaError, match="truncated or corrupt gzip") as exc:
        FastaReader(bad, cache_dir=tmp_path / "cache")
    _one_line_naming(exc, bad)


def test_plain_gzip_truncated_index_fasta(tmp_path):
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(TINY_GZ.read_bytes()[:-20])
    with pytest.raises(FastaError) as exc:
        index_fasta(cut)
    _one_line_naming(exc, cut)


def test_gunzip_progress_bar_silenced(tmp_path, capsys):
    FastaReader(TINY_GZ, cache_dir=tmp_path / "quiet", progress=False)
    GenomeSet([TINY_GZ], cache_dir=tmp_path / "quiet2", progress=False)
    assert "gunzip" not in capsys.readouterr().err
    FastaReader(TINY_GZ, cache_dir=tmp_path / "loud")
    assert "gunzip" in capsys.readouterr().err


def test_fit_markov_without_progress_is_silent(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENOMAMBA_CACHE", str(tmp_path / "cache"))
    MarkovLM.fit([TINY_GZ], k=2, progress=False)
    assert capsys.readouterr().err == ""
