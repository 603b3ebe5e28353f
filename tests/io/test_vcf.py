"""io/vcf: POS conversion in one place, streaming read of VCF/TSV, lossless atomic round trips."""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pytest

from genomamba.errors import VcfError
from genomamba.io import compress, vcf
from genomamba.io.vcf import (
    TsvWriter, VcfWriter, add_filter, parse_info, pos_to_start, read_tsv, read_variants, read_vcf, start_to_pos,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_VCF = FIXTURES / "tiny.vcf"
TINY_TSV = FIXTURES / "tiny_variants.tsv"
INFO_LINE = '##INFO=<ID=GM_TEST,Number=A,Type=Float,Description="test score, natural log">'
FILTER_LINE = '##FILTER=<ID=REF_MISMATCH,Description="REF disagrees with the FASTA">'


def test_pos_conversion_is_one_based_to_zero_based():
    assert pos_to_start("1") == 0 and pos_to_start(200) == 199
    assert start_to_pos(pos_to_start("57")) == 57
    with pytest.raises(VcfError, match=r"in\.vcf:12: POS 0 must be >= 1"):
        pos_to_start("0", source="in.vcf", line=12)
    with pytest.raises(VcfError, match=r"in\.vcf:3: POS 'x' is not an integer"):
        pos_to_start("x", source="in.vcf", line=3)


def test_read_vcf_records_and_starts():
    header, records = read_vcf(TINY_VCF)
    recs = list(records)
    assert len(recs) == 10
    assert header.kind == "vcf" and header.columns[:8][0] == "#CHROM"
    assert header.contigs() == ["chr1", "chr2", "chrM"]
    by_id = {r.fields[2]: r for r in recs}
    assert by_id["snv1"].start == 10 and by_id["snv1"].end == 11
    assert by_id["edge_start"].start == 0
    assert by_id["del1"].ref == "GTAT" and by_id["del1"].end == 59
    assert by_id["multi1"].alts == ["A", "C"]
    assert by_id["complex1"].alts == ["AGA", "CTTA"]
    first_record_line = len(header.meta) + 2
    assert [r.line for r in recs] == list(range(first_record_line, first_record_line + 10))


def _text(path: Path) -> str:
    with vcf.open_text(path) as fh:
        return fh.read()


def test_plain_round_trip_is_byte_identical(tmp_path):
    header, records = read_vcf(TINY_VCF)
    out = tmp_path / "out.vcf"
    with VcfWriter(out, header) as w:
        for r in records:
            w.write(r)
    assert out.read_text() == TINY_VCF.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["out.vcf"], "no temp files left behind"


def test_gz_round_trip_keeps_every_record_and_header_line(tmp_path):
    header, records = read_variants(TINY_VCF)
    out = tmp_path / "out.vcf.gz"
    with VcfWriter(out, header, [INFO_LINE], [FILTER_LINE]) as w:
        for i, r in enumerate(records):
            if i == 5:
                r.filters.append("REF_MISMATCH")
            elif r.alts:
                r.info["GM_TEST"] = ",".join("0.5" for _ in r.alts)
            w.write(r)
    assert "bgzip" in w.note and "tabix" in w.note
    assert (tmp_path / "out.vcf.gz.tbi").is_file()
    text = _text(out)
    for line in header.meta:
        assert line in text.splitlines(), line
    assert INFO_LINE in text and FILTER_LINE in text
    with pysam.VariantFile(str(out)) as vf:
        got = list(vf)
        assert [r.id for r in got] == [r.split("\t")[2] for r in TINY_VCF.read_text().splitlines() if r[0] != "#"]
        assert list(got[5].filter) == ["REF_MISMATCH"] and "GM_TEST" not in got[5].info
        assert list(got[3].filter) == ["LowQual"], "existing filters are kept"
        assert got[4].info["GM_TEST"] == (0.5, 0.5)
        assert got[0].info["CLASS"] == "benign"
        assert len(list(vf.fetch("chr1", 0, 50))) == 3, "tabix index works"


def test_gzip_fallback_without_pysam(tmp_path, monkeypatch):
    monkeypatch.setattr(compress, "pysam_available", lambda: False)
    header, records = read_vcf(TINY_VCF)
    out = tmp_path / "out.vcf.gz"
    with VcfWriter(out, header) as w:
        for r in records:
            w.write(r)
    assert "pysam is not installed" in w.note
    assert not (tmp_path / "out.vcf.gz.tbi").exists()
    assert gzip.decompress(out.read_bytes()).decode() == TINY_VCF.read_text()


def test_failed_write_leaves_nothing(tmp_path):
    header, records = read_vcf(TINY_VCF)
    out = tmp_path / "out.vcf.gz"
    with pytest.raises(RuntimeError):
        with VcfWriter(out, header) as w:
            for i, r in enumerate(records):
                if i == 3:
                    raise RuntimeError("boom")
                w.write(r)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "body, match",
    [
        ("chr1\t5\t.\tA\n", r":3: a VCF record needs 8 tab-separated columns, got 4"),
        ("chr1\tfive\t.\tA\tC\t.\t.\t.\n", r":3: POS 'five' is not an integer"),
        ("chr1\t5\t.\t.\tC\t.\t.\t.\n", r":3: empty REF"),
    ],
    ids=["short-row", "bad-pos", "empty-ref"],
)
def test_bad_records_name_file_and_line(tmp_path, body, match):
    p = tmp_path / "bad.vcf"
    p.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body)
    _, records = read_vcf(p)
    with pytest.raises(VcfError, match="bad.vcf" + match):
        list(records)


def test_missing_column_line(tmp_path):
    p = tmp_path / "nohdr.vcf"
    p.write_text("##fileformat=VCFv4.2\nchr1\t5\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(VcfError, match=r"nohdr.vcf:2: expected '##' meta lines"):
        read_vcf(p)


def test_crlf_and_gzip_input(tmp_path):
    p = tmp_path / "crlf.vcf.gz"
    p.write_bytes(gzip.compress(TINY_VCF.read_text().replace("\n", "\r\n").encode()))
    header, records = read_variants(p)
    recs = list(records)
    assert len(recs) == 10 and recs[0].fields[-1] == "CLASS=benign"


def test_tsv_reader_and_tsv_to_vcf(tmp_path):
    header, records = read_variants(TINY_TSV)
    recs = list(records)
    assert header.kind == "tsv" and len(recs) == 7
    assert recs[0].chrom == "chr1" and recs[0].start == 10 and recs[0].fields[4] == "gene a:x"
    assert recs[4].alts == ["A", "C"]
    out = tmp_path / "from_tsv.vcf.gz"
    with VcfWriter(out, header, [INFO_LINE]) as w:
        for r in recs:
            r.info["GM_TEST"] = ",".join("1" for _ in r.alts)
            w.write(r)
    with pysam.VariantFile(str(out)) as vf:
        got = list(vf)
    assert len(got) == 7 and got[0].pos == 11 and got[0].info["gene"] == "gene%20a:x"
    assert got[0].info["label"] == "benign" and got[4].alts == ("A", "C")


def test_tsv_output_keeps_columns(tmp_path):
    header, records = read_tsv(TINY_TSV)
    out = tmp_path / "out.tsv"
    with TsvWriter(out, header, ["GM_TEST"]) as w:
        for r in records:
            r.info["GM_TEST"] = "0.25"
            w.write(r)
    lines = out.read_text().splitlines()
    assert lines[0] == "chrom\tpos\tref\talt\tgene\tlabel\tfilter\tGM_TEST"
    src = TINY_TSV.read_text().splitlines()
    assert [line.rsplit("\t", 2)[0] for line in lines[1:]] == src[1:]


def test_tsv_missing_column(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("chrom\tposition\tref\n")
    with pytest.raises(VcfError, match=r"x.tsv:1: no ALT column"):
        read_tsv(p)


def test_filter_and_info_helpers():
    assert add_filter(".", "X") == "X" and add_filter("PASS", "X") == "X"
    assert add_filter("LowQual", "X") == "LowQual;X" and add_filter("X", "X") == "X"
    assert parse_info("A=1;B=x,y;F") == {"A": "1", "B": "x,y", "F": True}
    assert vcf.format_info(parse_info("A=1;B=x,y;F")) == "A=1;B=x,y;F"
    assert parse_info(".") == {}
