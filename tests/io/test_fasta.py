"""FastaReader / GenomeSet on the committed plain fixture: index, fetch, bounds, pickling, forking."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import random
import shutil
from pathlib import Path

import numpy as np
import pyfaidx
import pytest
from Bio import SeqIO

from genomamba import alphabet
from genomamba.errors import FastaDuplicateRecordError, FastaFetchError
from genomamba.io import fasta
from genomamba.io.fasta import FastaReader, GenomeSet, index_fasta, read_fai

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = FIXTURES / "tiny.fa"


@pytest.fixture(scope="module")
def truth() -> dict[str, str]:
    return {r.id: str(r.seq) for r in SeqIO.parse(TINY, "fasta")}


@pytest.fixture
def reader(tmp_path):
    with FastaReader(TINY, cache_dir=tmp_path / "cache") as r:
        yield r


def test_names_and_lengths_follow_file_order(reader, truth):
    assert reader.names == ["chr1", "chr2", "chrM"]
    assert reader.lengths == {k: len(v) for k, v in truth.items()}
    assert reader.path == TINY


def test_lengths_is_a_read_only_view(reader, tmp_path):
    # per-record lookups must not copy the index (a copy per call made 100,000 reads quadratic)
    for owner in (reader, GenomeSet([TINY], cache_dir=tmp_path / "c")):
        lengths = owner.lengths
        with pytest.raises(TypeError):
            lengths["chr1"] = 0
        assert owner.lengths["chr1"] == lengths["chr1"] > 0
        assert type(lengths).__name__ == "mappingproxy"


def test_fixture_has_softmask_and_n_runs(truth):
    assert any(c.islower() for c in truth["chr2"]), "chr2 must carry soft-masked bases"
    assert "N" * 10 in truth["chr1"] and "N" * 10 in truth["chr2"]


def test_index_matches_samtools_byte_for_byte(tmp_path):
    copy = tmp_path / "tiny.fa"
    shutil.copy(TINY, copy)
    fai = index_fasta(copy)
    assert fai == tmp_path / "tiny.fa.fai"
    assert fai.read_bytes() == (FIXTURES / "tiny.fa.fai").read_bytes()  # made by pysam.faidx


def test_fetch_every_window_matches_biopython(reader, truth):
    for name, seq in truth.items():
        for start in range(0, len(seq) + 1, 7):
            for end in range(start, len(seq) + 1, 11):
                assert reader.fetch(name, start, end) == seq[start:end], (name, start, end)
        assert reader.fetch(name, 0, len(seq)) == seq


@pytest.mark.parametrize("start,end", [(59, 61), (60, 61), (59, 60), (60, 120), (119, 121), (0, 60), (180, 200)])
def test_fetch_across_line_boundaries(reader, truth, start, end):
    assert reader.fetch("chr1", start, end) == truth["chr1"][start:end]


def test_fetch_agrees_with_pyfaidx(reader):
    fa = pyfaidx.Fasta(str(TINY), sequence_always_upper=False, as_raw=True, rebuild=False)
    rng = random.Random(0)
    for _ in range(300):
        name = rng.choice(reader.names)
        n = reader.lengths[name]
        s = rng.randrange(n)
        e = rng.randrange(s + 1, n + 1)
        assert reader.fetch(name, s, e) == fa[name][s:e]


def test_lowercase_kept_and_tokens_match_alphabet(reader, truth):
    seq = reader.fetch("chr2", 30, 120)
    assert seq == truth["chr2"][30:120] and any(c.islower() for c in seq)
    tokens, mask = reader.fetch_tokens("chr2", 30, 120, return_softmask=True)
    ref_tokens, ref_mask = alphabet.encode(truth["chr2"][30:120], return_softmask=True)
    assert tokens.dtype == np.uint8 and mask.dtype == np.bool_
    np.testing.assert_array_equal(tokens, ref_tokens)
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_array_equal(reader.fetch_tokens("chr2", 30, 120), ref_tokens)
    assert tokens.flags.writeable, "torch.from_numpy warns on read-only arrays"


def test_numpy_integer_coordinates(reader, truth):
    assert reader.fetch("chr1", np.int64(3), np.int32(9)) == truth["chr1"][3:9]


def test_empty_fetch(reader):
    assert reader.fetch("chr1", 5, 5) == ""
    assert reader.fetch("chr1", 200, 200) == ""
    assert reader.fetch_tokens("chr1", 5, 5).shape == (0,)


@pytest.mark.parametrize(
    "name,start,end",
    [("chr1", -1, 10), ("chr1", 190, 201), ("chr1", 20, 10), ("chrM", 0, 38), ("chrX", 0, 1)],
    ids=["negative-start", "end-past-length", "start-after-end", "chrM-overflow", "unknown-record"],
)
def test_out_of_bounds_raises_naming_file_record_bounds(reader, name, start, end):
    with pytest.raises(FastaFetchError) as exc:
        reader.fetch(name, start, end)
    msg = str(exc.value)
    assert str(TINY) in msg and repr(name) in msg and f"[{start}, {end})" in msg, msg
    with pytest.raises(FastaFetchError):
        reader.fetch_tokens(name, start, end)
    assert isinstance(exc.value, IndexError)


def test_float_coordinates_rejected(reader):
    with pytest.raises(TypeError):
        reader.fetch("chr1", 1.5, 10)


def test_handle_opens_lazily_and_close_reopens(tmp_path, truth):
    r = FastaReader(TINY, cache_dir=tmp_path)
    assert r._fd is None, "construction must not open the file"
    assert r.fetch("chrM", 0, 5) == truth["chrM"][:5]
    assert r._pid == os.getpid()
    r.close()
    assert r._fd is None
    assert r.fetch("chrM", 5, 9) == truth["chrM"][5:9]
    r.close()


def test_pickle_drops_handle(reader, truth):
    reader.fetch("chr1", 0, 10)
    clone = pickle.loads(pickle.dumps(reader))
    assert clone._fd is None and clone._pid is None
    assert clone.lengths == reader.lengths
    assert clone.fetch("chr2", 0, 150) == truth["chr2"]
    clone.close()


def _fetch_in_child(reader, queue):
    seq = reader.fetch("chr2", 40, 90)
    queue.put((os.getpid(), reader._pid, seq))


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_forked_worker_reopens_its_own_handle(reader, truth):
    reader.fetch("chr1", 0, 10)  # parent handle open before the fork, as in a DataLoader
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=_fetch_in_child, args=(reader, queue))
    p.start()
    child_pid, reader_pid, seq = queue.get(timeout=30)
    p.join(30)
    assert p.exitcode == 0
    assert reader_pid == child_pid != os.getpid()
    assert seq == truth["chr2"][40:90]
    assert reader._pid == os.getpid()  # parent untouched
    assert reader.fetch("chr1", 0, 10) == truth["chr1"][:10]


def test_fresh_fai_is_trusted(tmp_path):
    copy = tmp_path / "tiny.fa"
    shutil.copy(TINY, copy)
    fai = tmp_path / "tiny.fa.fai"
    # a hand-edited index newer than the FASTA: trusted as is (shorter chrM proves it was read)
    fai.write_text((FIXTURES / "tiny.fa.fai").read_text().replace("chrM\t37", "chrM\t30"))
    os.utime(copy, (1_000_000, 1_000_000))
    assert FastaReader(copy, cache_dir=tmp_path / "c").lengths["chrM"] == 30


def test_stale_fai_is_rebuilt(tmp_path):
    copy = tmp_path / "tiny.fa"
    shutil.copy(TINY, copy)
    fai = tmp_path / "tiny.fa.fai"
    fai.write_text("bogus\t1\t0\t1\t2\n")
    os.utime(fai, (1_000_000, 1_000_000))  # older than the FASTA
    r = FastaReader(copy, cache_dir=tmp_path / "c")
    assert r.names == ["chr1", "chr2", "chrM"]
    assert fai.read_bytes() == (FIXTURES / "tiny.fa.fai").read_bytes()


def test_unwritable_data_dir_puts_index_in_cache(tmp_path, monkeypatch, truth):
    copy = tmp_path / "data" / "tiny.fa"
    copy.parent.mkdir()
    shutil.copy(TINY, copy)
    real = fasta.index_fasta

    def index_fasta_readonly_dir(path, fai_path=None, **kw):
        if Path(fai_path).parent == copy.parent:
            raise PermissionError(f"read-only: {fai_path}")
        return real(path, fai_path, **kw)

    monkeypatch.setattr(fasta, "index_fasta", index_fasta_readonly_dir)
    cache = tmp_path / "cache"
    r = FastaReader(copy, cache_dir=cache)
    assert not (copy.parent / "tiny.fa.fai").exists()
    assert r._fai_path.parent == cache
    assert r.fetch("chr2", 0, 150) == truth["chr2"]
    # second reader finds the cached index without writing again
    monkeypatch.setattr(fasta, "index_fasta", None)
    assert FastaReader(copy, cache_dir=cache).lengths == r.lengths


def test_read_fai_roundtrip():
    idx = read_fai(FIXTURES / "tiny.fa.fai")
    assert idx["chr2"] == fasta.FaiRecord(150, 256, 60, 61)


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        FastaReader(tmp_path / "nope.fa")


# ---- GenomeSet ----------------------------------------------------------------------------------


def _write(path: Path, records: dict[str, str]) -> Path:
    path.write_text("".join(f">{k}\n" + "".join(v[i:i + 60] + "\n" for i in range(0, len(v), 60))
                            for k, v in records.items()))
    return path


def test_genome_set_one_namespace(tmp_path, truth):
    other = _write(tmp_path / "plasmid.fa", {"pA": "ACGT" * 40, "pB": "ttggNNcc"})
    gs = GenomeSet([TINY, other], cache_dir=tmp_path / "c")
    assert gs.lengths == {**{k: len(v) for k, v in truth.items()}, "pA": 160, "pB": 8}
    assert gs.names == ["chr1", "chr2", "chrM", "pA", "pB"]
    assert gs.fetch("chr2", 10, 20) == truth["chr2"][10:20]
    assert gs.fetch("pB", 0, 8) == "ttggNNcc"
    np.testing.assert_array_equal(gs.fetch_tokens("pA", 0, 4), [0, 1, 2, 3])
    toks, mask = gs.fetch_tokens("pB", 0, 4, return_softmask=True)
    assert mask.all()
    assert gs.reader_for("pA").path == other and gs.reader_for("chrM").path == TINY
    with pytest.raises(FastaFetchError, match="chrX"):
        gs.fetch("chrX", 0, 1)
    with pytest.raises(FastaFetchError, match="pB"):
        gs.fetch("pB", 0, 9)
    clone = pickle.loads(pickle.dumps(gs))
    assert clone.fetch("pA", 4, 8) == "ACGT"
    gs.close()


def test_genome_set_duplicate_names_both_files(tmp_path):
    other = _write(tmp_path / "dup.fa", {"chr2": "ACGT"})
    with pytest.raises(FastaDuplicateRecordError) as exc:
        GenomeSet([TINY, other], cache_dir=tmp_path / "c")
    assert str(TINY) in str(exc.value) and str(other) in str(exc.value) and "chr2" in str(exc.value)
