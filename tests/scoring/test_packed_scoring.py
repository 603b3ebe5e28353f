"""Continuous batching: short records packed into rows (seq_idx) score exactly as padded and as one
by one (both strands, hidden states), groups fit their rows and resume at group boundaries, and
`genomamba-score fasta` writes the same TSV packed and with --no-pack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.cli.score import main
from genomamba.errors import GenomambaError
from genomamba.io.fasta import FastaReader
from genomamba.models import CharMambaLM, MambaConfig, MarkovLM
from genomamba.scoring import score_records, score_sequence
from genomamba.data.packing import pack_rows
from genomamba.scoring.likelihood import batch_groups

CHUNK = 64


@pytest.fixture(scope="module")
def model() -> CharMambaLM:
    torch.manual_seed(0)
    m = CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4, scan_backend="torch"))
    with torch.no_grad():
        m.lm_head.weight.mul_(50)
    return m.eval()


@pytest.fixture(scope="module")
def reads(tmp_path_factory) -> Path:
    """25 reads of 1..64 bases (some with N) and one longer than the chunk in the middle."""
    rng = np.random.default_rng(0)
    lengths = [1, 2, 3, 64, 40, 17, 5] + list(rng.integers(1, CHUNK + 1, 18))
    lengths.insert(12, 150)
    path = tmp_path_factory.mktemp("fa") / "reads.fa"
    with open(path, "w") as f:
        for i, n in enumerate(lengths):
            seq = "".join(rng.choice(list("ACGTTGCAN"), n))
            f.write(f">r{i}\n{seq}\n")
    return path


def _tracks(pieces):
    out = {}
    for p in pieces:
        out.setdefault(p.name, []).append(p)
    return {n: (np.concatenate([p.ll for p in ps]),
                None if ps[0].hidden is None else np.concatenate([p.hidden for p in ps])) for n, ps in out.items()}


@pytest.mark.parametrize("both", [False, True], ids=["forward", "both-strands"])
def test_packed_equals_padded_and_one_by_one(model, reads, both):
    reader = FastaReader(reads)
    alone = {n: _tracks(score_sequence(model, reader, n, chunk=CHUNK, both_strands=both, hidden=True))[n]
             for n in reader.names}
    for pack in (True, False):
        pieces = list(score_records(model, reader, batch_size=2, chunk=CHUNK, both_strands=both, hidden=True,
                                    pack=pack))
        got = _tracks(pieces)
        assert list(got) == reader.names
        for n in reader.names:
            np.testing.assert_array_equal(np.isnan(got[n][0]), np.isnan(alone[n][0]), err_msg=f"{n} pack={pack}")
            np.testing.assert_allclose(got[n][0], alone[n][0], atol=1e-5, err_msg=f"{n} pack={pack}")
            np.testing.assert_allclose(got[n][1], alone[n][1], atol=1e-5, err_msg=f"{n} pack={pack}")


@pytest.mark.parametrize("strands", [1, 2])
def test_pack_groups_fit_their_rows_and_resume_at_boundaries(reads, strands):
    reader = FastaReader(reads)
    groups = list(batch_groups(reader, reader.names, CHUNK, 3, pack=True, strands=strands))
    assert [n for _, g in groups for n in g] == reader.names
    assert ("stream", ["r12"]) in groups
    for kind, g in groups:
        if kind == "pack":
            lengths = [reader.lengths[n] for n in g for _ in range(strands)]
            assert pack_rows(lengths, CHUNK)[-1][0] < 3 or len(g) == 1
    start = sum(len(g) for _, g in groups[:2])
    assert list(batch_groups(reader, reader.names[start:], CHUNK, 3, pack=True, strands=strands)) == groups[2:]


def test_pack_rows_is_greedy_in_order():
    assert pack_rows([30, 30, 10, 64, 1], 64) == [(0, 0), (0, 30), (1, 0), (2, 0), (3, 0)]


def test_pack_refused_for_a_model_without_seq_idx(reads):
    reader = FastaReader(reads)
    markov = MarkovLM.fit([str(reads)], k=2, progress=False)
    with pytest.raises(GenomambaError, match="packed"):
        next(score_records(markov, reader, pack=True))


def test_cli_packed_tsv_equals_no_pack(model, reads, tmp_path):
    model_dir = model.save_pretrained(tmp_path / "m")
    outs = {}
    for flag in ([], ["--no-pack"]):
        out = tmp_path / f"s{len(flag)}.tsv"
        assert main(["fasta", str(model_dir), str(reads), "-o", str(out), "--chunk-size", str(CHUNK),
                     "--batch-size", "2", "--both-strands", "--device", "cpu", "-q", *flag]) == 0
        outs[bool(flag)] = [line.split("\t") for line in out.read_text().splitlines()]
    assert [r[:2] + r[3:] for r in outs[True]] == [r[:2] + r[3:] for r in outs[False]]
    for a, b in zip(outs[True][1:], outs[False][1:]):
        assert a[2] == b[2] == "nan" or abs(float(a[2]) - float(b[2])) <= 2e-6, (a, b)
