"""Compressed FASTA: plain gzip is converted once to a cached indexed copy; BGZF is read directly
through pyfaidx with a samtools-style .fai (uncompressed offsets) and .gzi; all formats agree."""

from __future__ import annotations

import gzip
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pysam
import pytest

from genomamba.errors import FastaEmptyRecordError, FastaLineLengthError
from genomamba.io import fasta
from genomamba.io.fasta import FastaReader, detect_format, index_fasta

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY, TINY_BGZ, TINY_GZ = FIXTURES / "tiny.fa", FIXTURES / "tiny.fa.gz", FIXTURES / "tiny_plain.fa.gz"


def test_detect_format_by_magic_not_extension(tmp_path):
    assert detect_format(TINY) == "plain"
    assert detect_format(TINY_BGZ) == "bgzf"
    assert detect_format(TINY_GZ) == "gzip"
    disguised = tmp_path / "genome.fa"  # gzip content, FASTA name
    shutil.copy(TINY_GZ, disguised)
    assert detect_format(disguised) == "gzip"
    plain_named_gz = tmp_path / "plain.fa.gz"
    shutil.copy(TINY, plain_named_gz)
    assert detect_format(plain_named_gz) == "plain"
    assert FastaReader(plain_named_gz, cache_dir=tmp_path / "c").fetch("chrM", 0, 37) == \
        FastaReader(TINY, cache_dir=tmp_path / "c").fetch("chrM", 0, 37)


def _every_sequence(reader: FastaReader) -> dict[str, str]:
    return {name: reader.fetch(name, 0, n) for name, n in reader.lengths.items()}


def test_all_three_formats_identical(tmp_path):
    readers = [FastaReader(p, cache_dir=tmp_path / "cache") for p in (TINY, TINY_BGZ, TINY_GZ)]
    assert [r.format for r in readers] == ["plain", "bgzf", "gzip"]
    ref = readers[0]
    for r in readers[1:]:
        assert r.names == ref.names and r.lengths == ref.lengths
        assert _every_sequence(r) == _every_sequence(ref)
    rng = random.Random(1)
    for _ in range(200):
        name = rng.choice(ref.names)
        s = rng.randrange(ref.lengths[name])
        e = rng.randrange(s, ref.lengths[name] + 1)
        seqs = {r.fetch(name, s, e) for r in readers}
        assert len(seqs) == 1, (name, s, e, seqs)
        toks = [r.fetch_tokens(name, s, e, return_softmask=True) for r in readers]
        for t, m in toks[1:]:
            np.testing.assert_array_equal(t, toks[0][0])
            np.testing.assert_array_equal(m, toks[0][1])
    for r in readers:
        r.close()


def test_plain_gzip_converted_once_and_cached(tmp_path, monkeypatch):
    src = tmp_path / "genome.fa.gz"
    shutil.copy(TINY_GZ, src)
    cache = tmp_path / "cache"
    r1 = FastaReader(src, cache_dir=cache)
    copies = sorted(cache.glob("*.fa"))
    assert len(copies) == 1 and copies[0].read_bytes() == TINY.read_bytes()
    assert (cache / (copies[0].name + ".fai")).read_bytes() == (FIXTURES / "tiny.fa.fai").read_bytes()
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")], "temp files left behind"
    stamp = copies[0].stat().st_mtime_ns

    def no_gunzip(*a, **k):
        raise AssertionError("plain gzip decompressed a second time")

    monkeypatch.setattr(fasta.gzip, "GzipFile", no_gunzip)
    monkeypatch.setattr(fasta.gzip, "open", no_gunzip)
    r2 = FastaReader(src, cache_dir=cache)
    assert r2.fetch("chr2", 0, 150) == r1.fetch("chr2", 0, 150)
    assert copies[0].stat().st_mtime_ns == stamp
    assert r2.path == src  # errors and reprs name the user's file, not the cache


def test_gzip_cache_key_follows_size_and_mtime(tmp_path):
    src = tmp_path / "genome.fa.gz"
    shutil.copy(TINY_GZ, src)
    cache = tmp_path / "cache"
    FastaReader(src, cache_dir=cache)
    os.utime(src, (2_000_000_000, 2_000_000_000))  # a re-downloaded file
    FastaReader(src, cache_dir=cache)
    assert len(list(cache.glob("*.fa"))) == 2


def test_default_cache_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GENOMAMBA_CACHE", str(tmp_path / "envcache"))
    assert fasta.default_cache_dir() == tmp_path / "envcache"
    FastaReader(TINY_GZ)
    assert len(list((tmp_path / "envcache").glob("tiny_plain.fa.*.fa"))) == 1


def test_bgzip_read_directly_without_cache_copy(tmp_path):
    cache = tmp_path / "cache"
    r = FastaReader(TINY_BGZ, cache_dir=cache)
    assert r.fetch("chr2", 35, 100) == FastaReader(TINY, cache_dir=cache).fetch("chr2", 35, 100)
    assert not cache.exists() or not list(cache.glob("*.fa")), "BGZF must not be decompressed to the cache"


def _write_big_fasta(path: Path, n_records: int = 3, length: int = 150_000) -> dict[str, str]:
    rng = np.random.default_rng(7)
    alphabet = np.frombuffer(b"ACGTacgtN", np.uint8)
    seqs = {f"r{i}": alphabet[rng.integers(0, 9, length + 17 * i)].tobytes().decode() for i in range(n_records)}
    with open(path, "w") as f:
        for k, s in seqs.items():
            f.write(f">{k}\n" + "".join(s[i:i + 70] + "\n" for i in range(0, len(s), 70)))
    return seqs


def test_bgzip_multiblock_indexes_match_samtools(tmp_path):
    plain = tmp_path / "big.fa"
    seqs = _write_big_fasta(plain)
    ours_dir, sam_dir = tmp_path / "ours", tmp_path / "samtools"
    ours_dir.mkdir(), sam_dir.mkdir()
    pysam.tabix_compress(str(plain), str(ours_dir / "big.fa.gz"))
    shutil.copy(ours_dir / "big.fa.gz", sam_dir / "big.fa.gz")
    pysam.faidx(str(sam_dir / "big.fa.gz"))

    r = FastaReader(ours_dir / "big.fa.gz", cache_dir=tmp_path / "cache")  # builds .fai and .gzi
    assert (ours_dir / "big.fa.gz.fai").read_bytes() == (sam_dir / "big.fa.gz.fai").read_bytes()
    assert (ours_dir / "big.fa.gz.gzi").read_bytes() == (sam_dir / "big.fa.gz.gzi").read_bytes()
    assert len((ours_dir / "big.fa.gz.gzi").read_bytes()) > 8 + 16, "fixture must span several blocks"
    rng = random.Random(3)
    for _ in range(100):
        name = rng.choice(list(seqs))
        s = rng.randrange(len(seqs[name]) - 1024)
        assert r.fetch(name, s, s + 1024) == seqs[name][s:s + 1024]
    assert r.fetch("r2", 0, len(seqs["r2"])) == seqs["r2"]


def test_bgzip_with_unusual_extension(tmp_path):
    odd = tmp_path / "tiny.fa.bgzf"
    shutil.copy(TINY_BGZ, odd)
    r = FastaReader(odd, cache_dir=tmp_path / "cache")
    assert r.format == "bgzf"
    assert r.fetch("chr1", 0, 200) == FastaReader(TINY, cache_dir=tmp_path / "cache").fetch("chr1", 0, 200)


def test_bgzip_fai_from_our_indexer_read_by_pyfaidx(tmp_path):
    bgz = tmp_path / "tiny.fa.gz"
    shutil.copy(TINY_BGZ, bgz)
    fai = index_fasta(bgz)
    assert fai.read_bytes() == (FIXTURES / "tiny.fa.gz.fai").read_bytes()


@pytest.mark.parametrize("kind", ["gzip", "bgzf"])
def test_compressed_malformed_names_original_file(tmp_path, kind):
    path = tmp_path / f"bad_{kind}.fa.gz"
    text = b">a\nACGT\nAC\nACGT\n>b\n"
    if kind == "gzip":
        path.write_bytes(gzip.compress(text))
    else:
        plain = tmp_path / "bad.fa"
        plain.write_bytes(text)
        pysam.tabix_compress(str(plain), str(path))
    with pytest.raises(FastaLineLengthError, match=f"{path}: line 4"):
        FastaReader(path, cache_dir=tmp_path / "cache")
    path.write_bytes(gzip.compress(b">a\nACGT\n>b\n"))
    with pytest.raises(FastaEmptyRecordError, match=f"{path}: line 3"):
        FastaReader(path, cache_dir=tmp_path / "cache2")


def test_plain_gzip_with_crlf(tmp_path):
    path = tmp_path / "win.fa.gz"
    path.write_bytes(gzip.compress(TINY.read_bytes().replace(b"\n", b"\r\n")))
    r = FastaReader(path, cache_dir=tmp_path / "cache")
    ref = FastaReader(TINY, cache_dir=tmp_path / "cache")
    assert _every_sequence(r) == _every_sequence(ref)


def test_bgzip_reader_pickles_after_fetch(tmp_path):
    import pickle

    r = FastaReader(TINY_BGZ, cache_dir=tmp_path / "cache")
    seq = r.fetch("chr2", 10, 140)
    assert r._faidx is not None
    clone = pickle.loads(pickle.dumps(r))
    assert clone._faidx is None and clone.fetch("chr2", 10, 140) == seq
    clone.close(), r.close()
