"""`genomamba-generate` end to end on a tiny random model directory: FASTA records named from the
prompts and the sample index, --length bases of A C G T each, a seed reproduces the file, and a
bidirectional model or a bad option is one error line with exit status 1."""

from __future__ import annotations

import pytest

from genomamba.cli.generate import main
from genomamba.io.fasta import FastaReader

from .helpers import tiny_mamba, tiny_transformer


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return str(tiny_mamba().save_pretrained(tmp_path_factory.mktemp("m") / "model"))


def test_prompt_fasta_records_and_seed(model_dir, tiny_fa, tmp_path):
    out = tmp_path / "out.fa"
    args = [model_dir, "--prompt", str(tiny_fa), "--length", "90", "--num-samples", "2", "--seed", "4",
            "--temperature", "0.8", "--top-p", "0.9", "-o", str(out)]
    assert main(args) == 0
    with FastaReader(tiny_fa) as prompts, FastaReader(out) as got:
        assert got.names == [f"{n}_sample{i}" for n in prompts.names for i in range(2)]
        seqs = [got.fetch(n, 0, got.lengths[n]) for n in got.names]
    assert all(len(s) == 90 and set(s) <= set("ACGT") for s in seqs)
    header = out.read_text().splitlines()[0]
    assert header.startswith(f">{FastaReader(tiny_fa).names[0]}_sample0 prompt=") and "seed=4" in header
    first = out.read_bytes()
    assert main(args) == 0 and out.read_bytes() == first


def test_prompt_seq_to_stdout_greedy(tmp_path, capsys):
    model_dir = str(tiny_transformer().save_pretrained(tmp_path / "tf"))
    assert main([model_dir, "--prompt-seq", "ACGTNAC", "--length", "12", "--temperature", "0", "-o", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(">prompt_sample0 prompt=prompt length=12 temperature=0")
    assert len(lines) == 2 and len(lines[1]) == 12


def test_errors_are_one_line(tmp_path, capsys):
    bidir = str(tiny_mamba(bidirectional=True).save_pretrained(tmp_path / "bidir"))
    assert main([bidir, "--prompt-seq", "ACGT", "--length", "5", "-o", str(tmp_path / "x.fa")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bidir}: cannot generate with a bidirectional" in err
    assert not (tmp_path / "x.fa").exists()
    model_dir = str(tiny_mamba().save_pretrained(tmp_path / "m"))
    assert main([model_dir, "--prompt-seq", "ACXT", "--length", "5", "-o", str(tmp_path / "x.fa")]) == 1
    assert "invalid nucleotide 'X'" in capsys.readouterr().err
    assert main([model_dir, "--prompt-seq", "ACGT", "--length", "5", "--top-k", "9", "-o", str(tmp_path / "x.fa")]) == 1
    assert "top_k" in capsys.readouterr().err
