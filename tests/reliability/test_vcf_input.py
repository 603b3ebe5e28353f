"""Damaged compressed VCF input: one-line errors naming the file, never a traceback or a short read."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from genomamba.cli.score import main
from genomamba.errors import VcfError
from genomamba.io.vcf import read_variants
from genomamba.models import MarkovLM

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BUNDLED_VCF = Path(__file__).resolve().parents[2] / "data" / "ecoli_consequences_200kb.vcf.gz"  # bgzip


def damaged(kind: str, tmp_path: Path) -> Path:
    bgzf = BUNDLED_VCF.read_bytes()
    out = tmp_path / f"{kind}.vcf.gz"
    if kind == "bgzip-mid-block":
        out.write_bytes(bgzf[: len(bgzf) // 2])
    elif kind == "bgzip-at-block-boundary":  # only the 28-byte EOF block is missing: every record block is whole
        out.write_bytes(bgzf[:-28])
    else:  # plain gzip, cut short
        plain = gzip.compress(gzip.decompress(bgzf))
        out.write_bytes(plain[: len(plain) // 2])
    return out


KINDS = ["bgzip-mid-block", "bgzip-at-block-boundary", "gzip-truncated"]


@pytest.mark.parametrize("kind", KINDS)
def test_reading_a_damaged_vcf_names_the_file(kind, tmp_path):
    path = damaged(kind, tmp_path)
    with pytest.raises(VcfError, match=str(path)):
        header, records = read_variants(path)
        for _ in records:
            pass


@pytest.mark.parametrize("kind", KINDS)
def test_vcf_subcommand_gives_one_line(kind, tmp_path, capsys):
    path = damaged(kind, tmp_path)
    markov = MarkovLM.fit([FIXTURES / "tiny.fa"], k=2, progress=False).save_pretrained(tmp_path / "markov")
    out = tmp_path / "out.vcf"
    code = main(["vcf", str(markov), str(FIXTURES / "tiny.fa"), str(path), "-o", str(out), "-q",
                 "--unknown-contig", "flag"])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genomamba-score vcf: error:") and str(path) in lines[0], err
    assert not out.exists()
