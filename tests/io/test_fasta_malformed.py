"""Malformed and unusual FASTA files written to tmp_path: each raises its own error, naming the
file and the 1-based line; Windows line endings, missing final newlines and trailing blank lines
just work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genomamba import alphabet
from genomamba.errors import (
    AlphabetError,
    FastaDuplicateRecordError,
    FastaEmptyRecordError,
    FastaFormatError,
    FastaLineLengthError,
    FastaNoHeaderError,
)
from genomamba.io.fasta import FastaReader, index_fasta, read_fai

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

MALFORMED = [
    ("no-header", "ACGT\n>a\nACGT\n", FastaNoHeaderError, 1),
    ("no-header-after-blank", "\nACGT\n>a\nACGT\n", FastaNoHeaderError, 2),
    ("empty-record-middle", ">a\nACGT\n>b\n>c\nAC\n", FastaEmptyRecordError, 3),
    ("empty-record-last", ">a\nACGT\n>b\n", FastaEmptyRecordError, 3),
    ("empty-record-last-blank", ">a\nACGT\n>b desc\n\n\n", FastaEmptyRecordError, 3),
    ("empty-record-first", ">a\n>b\nACGT\n", FastaEmptyRecordError, 1),
    ("duplicate-name", ">a\nAC\n>b\nAC\n>a other description\nAC\n", FastaDuplicateRecordError, 5),
    ("short-line-inside", ">a\nACGT\nAC\nACGT\n", FastaLineLengthError, 4),
    ("long-line-inside", ">a\nACGT\nACGTA\nACGT\n", FastaLineLengthError, 3),
    ("long-last-line", ">a\nACGT\nACGT\nACGTAC\n", FastaLineLengthError, 4),
    ("blank-line-inside", ">a\nACGT\n\nACGT\n", FastaLineLengthError, 4),
    ("mixed-line-endings", ">a\nACGT\r\nACGT\nACGT\n", FastaLineLengthError, 4),
    ("second-record-lines", ">a\nACGT\n>b\nACG\nACGT\n", FastaLineLengthError, 5),
    ("header-without-name", ">a\nAC\n>\nACGT\n", FastaFormatError, 3),
]


@pytest.mark.parametrize("text,error,line", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_raises_naming_file_and_line(tmp_path, text, error, line):
    path = tmp_path / "bad.fa"
    path.write_bytes(text.encode())
    with pytest.raises(error) as exc:
        index_fasta(path)
    msg = str(exc.value)
    assert str(path) in msg and f"line {line}:" in msg, msg
    assert not (tmp_path / "bad.fa.fai").exists(), "a failed index must not leave a .fai"
    assert not list(tmp_path.glob(".*tmp")), "no temp files left behind"
    with pytest.raises(error):
        FastaReader(path, cache_dir=tmp_path / "cache")


def test_duplicate_message_names_first_definition(tmp_path):
    path = tmp_path / "dup.fa"
    path.write_text(">a\nAC\n>b\nAC\n>a\nAC\n")
    with pytest.raises(FastaDuplicateRecordError, match="'a' already defined at line 1"):
        index_fasta(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.fa"
    path.write_text("")
    with pytest.raises(FastaFormatError, match="no FASTA records"):
        FastaReader(path, cache_dir=tmp_path)


SEQS = {"chrA": "ACGTN" * 29 + "acg", "chrB": "ttttGGGGccccAAAA" * 5, "chrC": "NNNNACGTacgtNNNN"}


def _fasta_text(records: dict[str, str], width: int, eol: str, final_eol: bool = True) -> str:
    out = []
    for name, seq in records.items():
        out.append(f">{name} some description{eol}")
        out.extend(seq[i:i + width] + eol for i in range(0, len(seq), width))
    text = "".join(out)
    return text if final_eol else text[: -len(eol)]


def _assert_all_windows(reader: FastaReader, records: dict[str, str]) -> None:
    assert reader.lengths == {k: len(v) for k, v in records.items()}
    for name, seq in records.items():
        for s in range(len(seq) + 1):
            for e in range(s, min(len(seq), s + 70) + 1, 3):
                assert reader.fetch(name, s, e) == seq[s:e], (name, s, e)
        np.testing.assert_array_equal(reader.fetch_tokens(name, 0, len(seq)), alphabet.encode(seq))


@pytest.mark.parametrize("width", [7, 60])
def test_crlf_line_endings_just_work(tmp_path, width):
    path = tmp_path / "windows.fa"
    path.write_bytes(_fasta_text(SEQS, width, "\r\n").encode())
    with FastaReader(path, cache_dir=tmp_path / "c") as r:
        _assert_all_windows(r, SEQS)
    fai = read_fai(tmp_path / "windows.fa.fai")
    assert fai["chrA"].linewidth == min(width, len(SEQS["chrA"])) + 2


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_no_final_newline(tmp_path, eol):
    path = tmp_path / "nofinal.fa"
    path.write_bytes(_fasta_text(SEQS, 10, eol, final_eol=False).encode())
    with FastaReader(path, cache_dir=tmp_path / "c") as r:
        _assert_all_windows(r, SEQS)


def test_single_line_record_without_newline(tmp_path):
    path = tmp_path / "one.fa"
    path.write_text(">x\nACGTacgt")
    with FastaReader(path, cache_dir=tmp_path / "c") as r:
        assert r.fetch("x", 0, 8) == "ACGTacgt"
        assert r.fetch("x", 3, 5) == "Ta"


def test_trailing_and_leading_blank_lines_tolerated(tmp_path):
    path = tmp_path / "blanks.fa"
    path.write_text("\n>a\n\nACGT\nAC\n\n\n>b\nGG\n\n")
    with FastaReader(path, cache_dir=tmp_path / "c") as r:
        assert r.lengths == {"a": 6, "b": 2}
        assert r.fetch("a", 0, 6) == "ACGTAC" and r.fetch("b", 0, 2) == "GG"


def test_record_name_is_first_token(tmp_path):
    path = tmp_path / "names.fa"
    path.write_text(">chr1 Homo sapiens chromosome 1\nACGT\n>chr2\tdesc\nGG\n")
    assert FastaReader(path, cache_dir=tmp_path / "c").names == ["chr1", "chr2"]


def test_invalid_character_names_file_record_position(tmp_path):
    path = tmp_path / "badchar.fa"
    path.write_text(">ok\nACGT\n>seqX\nACGTACGT\nACGXACGT\nAC\n")
    r = FastaReader(path, cache_dir=tmp_path / "c")  # indexing does not scan characters
    assert r.fetch("seqX", 8, 16) == "ACGXACGT"  # raw fetch returns what is stored
    for start in (0, 5, 11):
        with pytest.raises(AlphabetError) as exc:
            r.fetch_tokens("seqX", start, 18)
        msg = str(exc.value)
        assert str(path) in msg and "'seqX'" in msg and "position 11" in msg and "'X'" in msg, msg
    np.testing.assert_array_equal(r.fetch_tokens("seqX", 12, 18), alphabet.encode("ACGTAC"))
    np.testing.assert_array_equal(r.fetch_tokens("ok", 0, 4), [0, 1, 2, 3])


def test_iupac_and_softmask_encode(tmp_path):
    path = tmp_path / "iupac.fa"
    path.write_text(">r\nACGTRYKMacgtnU\n")
    toks, mask = FastaReader(path, cache_dir=tmp_path / "c").fetch_tokens("r", 0, 14, return_softmask=True)
    ref_t, ref_m = alphabet.encode("ACGTRYKMacgtnU", return_softmask=True)
    np.testing.assert_array_equal(toks, ref_t)
    np.testing.assert_array_equal(mask, ref_m)
