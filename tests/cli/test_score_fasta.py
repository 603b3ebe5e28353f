"""`genomamba-score fasta` and `fit-markov`, run in-process on tests/fixtures/tiny.fa."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.cli.score import build_parser, main
from genomamba.models import CharMambaLM, MambaConfig, MarkovLM

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = FIXTURES / "tiny.fa"
LENGTHS = {"chr1": 200, "chr2": 150, "chrM": 37}
N_COUNT = {"chr1": 25, "chr2": 10, "chrM": 0}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: on a shared CPU, syncing intra-op threads costs 1000x the arithmetic."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def mamba_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    lm = CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4))
    return lm.save_pretrained(tmp_path_factory.mktemp("models") / "char_mamba")


@pytest.fixture(scope="module")
def markov_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "markov"
    assert main(["fit-markov", "-k", "3", "-o", str(out), str(TINY), "--both-strands", "-q"]) == 0
    return out


def _read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def _read_bedgraph(path: Path) -> list[tuple[str, int, int, float]]:
    lines = path.read_text().splitlines()
    assert lines[0].startswith("track type=bedGraph")
    return [(c, int(s), int(e), float(v)) for c, s, e, v in (line.split("\t") for line in lines[1:])]


def test_fit_markov_writes_a_model_dir(markov_dir):
    m = MarkovLM.from_pretrained(markov_dir)
    assert m.config.k == 3 and m.config.both_strands
    assert m.counts[0].sum() == 2 * (387 - 35)


@pytest.mark.parametrize("kind", ["char_mamba", "markov"])
def test_fasta_tsv_and_tracks(kind, mamba_dir, markov_dir, tmp_path):
    model = mamba_dir if kind == "char_mamba" else markov_dir
    out, bg = tmp_path / "out.tsv", tmp_path / "ll.bedGraph"
    rc = main(["fasta", str(model), str(TINY), "-o", str(out), "--tracks", str(bg), "--chunk-size", "64", "-q"])
    assert rc == 0
    header, rows = _read_tsv(out)
    assert header == ["name", "length", "bits_per_base", "n_count", "scored_bases"]
    assert [r[0] for r in rows] == list(LENGTHS)
    runs = _read_bedgraph(bg)
    for name, length, bpb, n_count, scored in rows:
        assert int(length) == LENGTHS[name] and int(n_count) == N_COUNT[name]
        assert int(scored) == LENGTHS[name] - N_COUNT[name] - 1  # the first base has no context
        assert 0 < float(bpb) < 4
        mine = [r for r in runs if r[0] == name]
        covered = sum(e - s for _, s, e, _ in mine)
        assert covered == int(scored), f"{name}: bedGraph covers {covered} bases"
        assert all(0 <= s < e <= LENGTHS[name] for _, s, e, _ in mine)
        assert all(a[2] <= b[1] for a, b in zip(mine, mine[1:])), "sorted and non-overlapping"
        # bits per base is the bedGraph's mean, converted (bedGraph values are rounded to 1e-4)
        ll_sum = sum((e - s) * v for _, s, e, v in mine)
        assert math.isclose(float(bpb), -ll_sum / math.log(2) / int(scored), abs_tol=1e-3)
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_both_strands_windows_and_embeddings(mamba_dir, tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    out, emb = tmp_path / "win.tsv", tmp_path / "emb.parquet"
    argv = ["fasta", str(mamba_dir), str(TINY), "-o", str(out), "--embeddings", str(emb),
            "--window", "100", "--stride", "50", "--both-strands", "--batch-size", "2", "-q"]
    assert main(argv) == 0
    header, rows = _read_tsv(out)
    assert header == ["name", "start", "end", "bits_per_base", "n_count", "scored_bases"]
    spans = [(r[0], int(r[1]), int(r[2])) for r in rows]
    assert spans == [("chr1", 0, 100), ("chr1", 50, 150), ("chr1", 100, 200),
                     ("chr2", 0, 100), ("chr2", 50, 150), ("chrM", 0, 37)]
    # both strands: every non-N base is scored, the ends by one strand
    assert int(rows[-1][5]) == 37
    table = pq.read_table(emb)
    assert table.column_names == ["name", "start", "end", "embedding"]
    assert table.num_rows == len(rows)
    vectors = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    assert vectors.shape == (len(rows), 16) and np.isfinite(vectors).all()


def test_embeddings_npz_per_record(mamba_dir, tmp_path):
    out, emb = tmp_path / "out.tsv", tmp_path / "emb.npz"
    assert main(["fasta", str(mamba_dir), str(TINY), "-o", str(out), "--embeddings", str(emb), "-q"]) == 0
    with np.load(emb) as z:
        assert list(z["name"]) == list(LENGTHS)
        assert list(z["end"] - z["start"]) == list(LENGTHS.values())
        assert z["embedding"].shape == (3, 16)


def test_bgzip_input_gives_the_same_scores(markov_dir, tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(a), "-q"]) == 0
    assert main(["fasta", str(markov_dir), str(FIXTURES / "tiny.fa.gz"), "-o", str(b), "-q"]) == 0
    assert a.read_text() == b.read_text()


def test_errors_leave_no_output(markov_dir, mamba_dir, tmp_path, capsys):
    out = tmp_path / "out.tsv"
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(out), "--embeddings", str(tmp_path / "e.npz")]) == 1
    assert "no hidden states" in capsys.readouterr().err
    assert main(["fasta", str(mamba_dir), str(TINY), "-o", str(out), "--records", "chr1,chrX", "-q"]) == 1
    err = capsys.readouterr().err
    assert "no record(s) 'chrX'; its records: chr1, chr2" in err  # the known records are listed
    assert main(["fasta", str(tmp_path), str(TINY), "-o", str(out)]) == 1
    assert "not a model directory" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_interrupted_run_keeps_previous_output(markov_dir, tmp_path, monkeypatch):
    out = tmp_path / "out.tsv"
    out.write_text("previous\n")

    def boom(*args, **kwargs):
        yield from ()
        raise KeyboardInterrupt

    monkeypatch.setattr("genomamba.scoring.runs.score_records", boom)
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(out), "-q"]) == 130  # one line, no traceback
    assert out.read_text() == "previous\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_help_documents_every_option():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for cmd in ("fasta", "fit-markov"):
        for action in sub.choices[cmd]._actions:
            assert action.help, f"{cmd} {action.option_strings or action.dest} has no help text"


def test_gz_names_get_compressed_outputs(markov_dir, tmp_path):
    """Issue 16.2: `-o x.tsv.gz` and `--tracks x.bedGraph.gz` were plain text."""
    import gzip

    plain_tsv, plain_bg = tmp_path / "a.tsv", tmp_path / "a.bedGraph"
    gz_tsv, gz_bg = tmp_path / "b.tsv.gz", tmp_path / "b.bedGraph.gz"
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(plain_tsv), "--tracks", str(plain_bg), "-q"]) == 0
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(gz_tsv), "--tracks", str(gz_bg), "-q"]) == 0
    for gz, plain in ((gz_tsv, plain_tsv), (gz_bg, plain_bg)):
        assert gz.read_bytes()[:2] == b"\x1f\x8b", f"{gz.name} is not gzip"
        assert gzip.decompress(gz.read_bytes()) == plain.read_bytes()


def test_bigwig_tracks_hold_the_bedgraph_values(markov_dir, tmp_path):
    """Issue 16.11: bigWig output chosen by the .bw extension."""
    pyBigWig = pytest.importorskip("pyBigWig")
    bg, bw = tmp_path / "ll.bedGraph", tmp_path / "ll.bw"
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(tmp_path / "a.tsv"), "--tracks", str(bg), "-q"]) == 0
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(tmp_path / "b.tsv"), "--tracks", str(bw), "-q"]) == 0
    f = pyBigWig.open(str(bw))
    assert f.chroms() == LENGTHS
    for c, s, e, v in _read_bedgraph(bg):
        got = f.intervals(c, s, e)
        assert got and all(abs(x[2] - v) < 1e-4 for x in got), (c, s, e, v, got)
    f.close()


def test_bigwig_without_pybigwig_is_a_clear_error(markov_dir, tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyBigWig" else real(name, *a))
    out = tmp_path / "a.tsv"
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(out), "--tracks", str(tmp_path / "x.bigWig"), "-q"]) == 1
    assert "pyBigWig" in capsys.readouterr().err and not out.exists()


def test_fit_markov_refuses_an_existing_model_dir(markov_dir, tmp_path, capsys):
    """Issue 9.2: `fit-markov -o` onto a model directory replaced it silently."""
    before = (markov_dir / "model.safetensors").read_bytes()
    assert main(["fit-markov", "-k", "2", "-o", str(markov_dir), str(TINY), "-q"]) == 1
    assert "--force" in capsys.readouterr().err
    assert (markov_dir / "model.safetensors").read_bytes() == before
    out = tmp_path / "m"
    assert main(["fit-markov", "-k", "2", "-o", str(out), str(TINY), "-q"]) == 0
    assert main(["fit-markov", "-k", "2", "-o", str(out), str(TINY), "-q", "--force"]) == 0


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "bars"])
def test_quiet_silences_the_gunzip_bar(markov_dir, tmp_path, monkeypatch, capfd, quiet):
    monkeypatch.setenv("GENOMAMBA_CACHE", str(tmp_path / "cache"))  # decompressed afresh
    argv = ["fasta", str(markov_dir), str(FIXTURES / "tiny_plain.fa.gz"), "-o", str(tmp_path / "s.tsv")]
    assert main(argv + (["-q"] if quiet else [])) == 0
    err = capfd.readouterr().err
    assert ("gunzip" in err or "decompress" in err) != quiet, err


@pytest.mark.parametrize("name", ["ll.tsv", "ll.bed", "ll.gz", "ll"])
def test_tracks_of_an_unknown_format_are_refused_before_scoring(markov_dir, tmp_path, capsys, name):
    """Walk-through: `--tracks x.tsv` silently wrote bedGraph."""
    out = tmp_path / "a.tsv"
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(out), "--tracks", str(tmp_path / name), "-q"]) == 1
    err = capsys.readouterr().err
    assert err == (f"genomamba-score fasta: error: --tracks {tmp_path / name}: unknown track format; name it "
                   ".bedGraph, .bedGraph.gz (bgzip) or .bw/.bigWig\n")
    assert not list(tmp_path.iterdir()), "nothing written"


@pytest.mark.parametrize("name", ["ll.bedGraph", "LL.BEDGRAPH.GZ", "ll.bedgraph.bgz"])
def test_track_names_in_any_case(markov_dir, tmp_path, name):
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(tmp_path / "a.tsv"), "--tracks", str(tmp_path / name),
                 "-q"]) == 0
    assert (tmp_path / name).stat().st_size > 0


def test_off_a_terminal_progress_is_lines_not_bar_redraws(markov_dir, tmp_path, capsys):
    """Walk-through: fasta drew tqdm's `\\r` bar into a log file; now stage lines, as vcf."""
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(tmp_path / "a.tsv")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.startswith("score: 387 bp ...\n") and "score: 387/387 bp done in " in err


def test_resume_without_a_partial_says_so(markov_dir, tmp_path, capsys):
    """Walk-through: `--resume` with no partial output silently scored everything again."""
    out = tmp_path / "a.tsv"
    assert main(["fasta", str(markov_dir), str(TINY), "-o", str(out), "-q", "--resume"]) == 0
    assert capsys.readouterr().err == (f"genomamba-score fasta: --resume: no partial output found at "
                                       f"{tmp_path / '.a.tsv.partial'}; starting from the beginning\n")
    assert len(out.read_text().splitlines()) == 4
