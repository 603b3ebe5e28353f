"""Streaming likelihoods: chunked == one pass, flat memory, batching == one by one, strand symmetry."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.alphabet import N, decode, reverse_complement_str
from genomamba.io.fasta import FastaReader
from genomamba.models import CharMambaLM, MambaConfig, MarkovLM
from genomamba.scoring import score_records, score_sequence, summarize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = FIXTURES / "tiny.fa"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: on a shared CPU, syncing intra-op threads costs 1000x the arithmetic."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def model() -> CharMambaLM:
    torch.manual_seed(0)
    m = CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4))
    with torch.no_grad():  # random init predicts ~uniform; sharpen it so differences show
        m.lm_head.weight.mul_(50)
    return m.eval()


@pytest.fixture(scope="module")
def reader() -> FastaReader:
    return FastaReader(TINY)


def _track(chunks) -> np.ndarray:
    return np.concatenate([c.ll for c in chunks])


def _write_fasta(path: Path, records: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as f:
        for name, seq in records.items():
            f.write(f">{name}\n")
            f.writelines(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
    return path


def test_matches_direct_log_softmax(model, reader):
    toks = reader.fetch_tokens("chr1", 0, 200).astype(np.int64)
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.from_numpy(toks)[None]).float(), -1)[0].numpy()
    expected = np.full(200, np.nan, np.float32)
    expected[1:] = logp[np.arange(199), toks[1:]]
    expected[toks >= 4] = np.nan
    got = _track(score_sequence(model, reader, "chr1", chunk=1000))
    assert np.isnan(got[0]), "the first base has no context and is not scored"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.isnan(got[toks == N]).all()


@pytest.mark.parametrize("chunk", [1, 7, 64, 199], ids=lambda c: f"chunk{c}")
@pytest.mark.parametrize("both", [False, True], ids=["fwd", "both"])
def test_chunked_equals_one_pass(model, reader, chunk, both):
    full = _track(score_sequence(model, reader, "chr1", chunk=10_000, both_strands=both))
    pieces = list(score_sequence(model, reader, "chr1", chunk=chunk, both_strands=both))
    assert all(len(p.tokens) <= chunk for p in pieces)
    assert [p.start for p in pieces] == list(range(0, 200, chunk))
    got = _track(pieces)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(full))
    err = np.nanmax(np.abs(got - full))
    assert err < 1e-5, f"chunk {chunk}: max abs err {err}"


def test_subinterval(model, reader):
    got = _track(score_sequence(model, reader, "chr2", 30, 90, chunk=17))
    assert got.shape == (60,) and np.isnan(got[0])
    # the interval is scored on its own: the same as a record holding only those bases
    with pytest.raises(Exception, match="outside"):
        list(score_sequence(model, reader, "chr2", 100, 151))


def test_markov_model_streams_too(reader):
    m = MarkovLM.fit([TINY], k=4, progress=False)
    full = _track(score_sequence(m, reader, "chr2", chunk=1000))
    got = _track(score_sequence(m, reader, "chr2", chunk=3))
    np.testing.assert_allclose(got, full, atol=1e-6)
    assert np.nanmax(got) <= 0


def test_batched_short_records_equal_one_by_one(model, reader):
    one = {n: _track(score_sequence(model, reader, n)) for n in reader.names}
    for both in (False, True):
        one = {n: _track(score_sequence(model, reader, n, both_strands=both)) for n in reader.names}
        pieces = list(score_records(model, reader, batch_size=3, chunk=256, both_strands=both))
        assert [p.name for p in pieces] == reader.names  # one piece per short record, in order
        for p in pieces:
            np.testing.assert_array_equal(np.isnan(p.ll), np.isnan(one[p.name]))
            np.testing.assert_allclose(p.ll, one[p.name], atol=1e-5, err_msg=f"{p.name} both={both}")
    # a long record between short ones keeps the order and streams in chunks
    pieces = list(score_records(model, reader, batch_size=2, chunk=100))
    assert [(p.name, p.start) for p in pieces] == [("chr1", 0), ("chr1", 100), ("chr2", 0), ("chr2", 100), ("chrM", 0)]


@pytest.mark.parametrize("chunk", [50, 1000], ids=["streamed", "batched"])
def test_both_strands_symmetric(model, reader, tmp_path, chunk):
    records = {n: reader.fetch(n, 0, reader.lengths[n]) for n in reader.names}
    rc = FastaReader(_write_fasta(tmp_path / "rc.fa", {n: reverse_complement_str(s) for n, s in records.items()}))
    fwd = {p.name: p for p in summarize(score_records(model, reader, chunk=chunk, both_strands=True))}
    for name in reader.names:
        a = _track(score_sequence(model, reader, name, chunk=chunk, both_strands=True))
        b = _track(score_sequence(model, rc, name, chunk=chunk, both_strands=True))
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b[::-1]))
        np.testing.assert_allclose(a, b[::-1], atol=1e-5, err_msg=name)
        assert not np.isnan(a[0]), "with both strands the first base is scored by the reverse strand"
        mirrored = next(iter(summarize(score_records(model, rc, [name], chunk=chunk, both_strands=True))))
        assert math.isclose(mirrored.ll_sum, fwd[name].ll_sum, rel_tol=1e-5)


def test_summaries_and_windows(model, reader):
    track = _track(score_sequence(model, reader, "chr1"))
    hid = np.concatenate([c.hidden for c in score_sequence(model, reader, "chr1", hidden=True)])
    toks = reader.fetch_tokens("chr1", 0, 200)
    (rec,) = summarize(score_records(model, reader, ["chr1"], chunk=33, hidden=True))
    assert (rec.start, rec.end, rec.n_count, rec.scored) == (0, 200, int((toks == N).sum()), int((~np.isnan(track)).sum()))
    assert math.isclose(rec.bits_per_base, -np.nansum(track) / math.log(2) / rec.scored, rel_tol=1e-5)
    np.testing.assert_allclose(rec.embedding, hid.mean(0), atol=1e-5)
    wins = list(summarize(score_sequence(model, reader, "chr1", chunk=33, hidden=True), window=64, stride=48))
    assert [(w.start, w.end) for w in wins] == [(0, 64), (48, 112), (96, 160), (144, 200)]
    for w in wins:
        seg = track[w.start : w.end]
        assert math.isclose(w.ll_sum, float(np.nansum(seg)), rel_tol=1e-5, abs_tol=1e-4)
        assert w.scored == int((~np.isnan(seg)).sum())
        np.testing.assert_allclose(w.embedding, hid[w.start : w.end].mean(0), atol=1e-5)


def _peak_bytes(model, reader, name: str, both: bool) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    for row in summarize(score_sequence(model, reader, name, chunk=8192, both_strands=both)):
        assert row.scored > 0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_flat_in_record_length(tmp_path):
    """Python/numpy heap peak (what tracemalloc sees) for 200 kb vs 800 kb: no growth with length.

    Scored with both strands, which runs both streams (the reverse one through its scratch file).
    """
    torch.manual_seed(0)
    tiny = CharMambaLM(MambaConfig(d_model=8, n_layer=1, d_state=4)).eval()
    rng = np.random.default_rng(0)
    seqs = {f"r{n}": decode(rng.integers(0, 4, n)) for n in (20_000, 200_000, 800_000)}
    reader = FastaReader(_write_fasta(tmp_path / "big.fa", seqs, width=80), cache_dir=tmp_path)
    _peak_bytes(tiny, reader, "r20000", True)  # warm-up: one-off allocations
    small = _peak_bytes(tiny, reader, "r200000", True)
    large = _peak_bytes(tiny, reader, "r800000", True)
    assert large / small < 1.3, f"peak {small} B for 200 kb vs {large} B for 800 kb"
    assert large < 8 << 20, f"peak {large} B: a record's worth of outputs is being held"
