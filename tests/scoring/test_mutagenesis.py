"""scoring/mutagenesis: every SNV of a region, the same scores as VCF scoring of those SNVs; the
region parser's errors; `genomamba-score mutagenesis` writes the TSV and the heatmap."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import genomamba as gm
from genomamba.cli.score import main
from genomamba.errors import GenomambaError
from genomamba.io.fasta import FastaReader
from genomamba.models.config import MambaConfig
from genomamba.models.lm import CharMambaLM
from genomamba.scoring.mutagenesis import parse_region, saturation_mutagenesis, snv_records
from genomamba.scoring.zero_shot import VariantScorer

TINY_FA = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.fa"
LENGTHS = {"chr1": 200, "chr2": 150, "HLA-A*01:01": 30}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=1)).eval()


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    return FastaReader(TINY_FA, cache_dir=tmp_path_factory.mktemp("cache"))


def test_parse_region():
    assert parse_region("chr1:1-200", LENGTHS) == ("chr1", 0, 200)
    assert parse_region(" chr2:101-101 ", LENGTHS) == ("chr2", 100, 101)
    assert parse_region("chr1:1,0-2,0", LENGTHS) == ("chr1", 9, 20)  # commas as in samtools
    assert parse_region("HLA-A*01:01:5-9", LENGTHS) == ("HLA-A*01:01", 4, 9)  # a ':' inside the name


@pytest.mark.parametrize("region, message", [
    ("chr1", "expected CHROM:START-END"),
    ("chr1:5", "expected CHROM:START-END"),
    ("chr1:a-9", "expected CHROM:START-END"),
    ("chr1:0-9", "START must be >= 1"),
    ("chr1:9-5", "START must be >= 1 and <= END"),
    ("chrX:1-5", "no record 'chrX'"),
    ("chr1:190-201", "runs past the end of chr1 (200 bp)"),
])
def test_parse_region_errors(region, message):
    with pytest.raises(GenomambaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_region(region, LENGTHS)


@pytest.mark.parametrize("strands", ["forward", "both"])
def test_every_snv_scored_as_vcf_scoring_scores_it(model, genome, strands):
    # chr2:85-105 has soft-masked bases and Ns at 91-100 (no SNVs there)
    table = saturation_mutagenesis(model, genome, "chr2:85-105", window=32, strands=strands, device="cpu",
                                   progress=False)
    assert list(table.columns) == ["chrom", "pos", "ref", "alt", "GM_LLR", "GM_DELTA"]
    positions = [p for p in range(85, 106) if not 91 <= p <= 100]
    assert sorted(table["pos"].unique()) == positions and len(table) == 3 * len(positions)
    seq = genome.fetch("chr2", 84, 105).upper()
    for pos, grp in table.groupby("pos"):
        assert set(grp["ref"]) == {seq[pos - 85]} and sorted(grp["alt"]) == sorted(set("ACGT") - {seq[pos - 85]})
    # whole windows, one SNV per record: the scores `genomamba-score vcf --no-state-cache` gives
    want = {}
    for rec in snv_records("chr2", 84, seq):
        for alt in rec.alts:
            one = type(rec)(rec.chrom, rec.start, rec.ref, [alt], "t", 1, [])
            scored = next(VariantScorer(model, genome, window=32, strands=strands, state_cache=False).score([one]))
            want[(rec.start + 1, alt)] = [float(scored.info[k]) for k in ("GM_LLR", "GM_DELTA")]
    got = np.array([want[(p, a)] for p, a in zip(table["pos"], table["alt"])])
    np.testing.assert_allclose(table[["GM_LLR", "GM_DELTA"]].to_numpy(), got, rtol=1e-5, atol=1e-6)
    assert np.isfinite(table["GM_LLR"]).all()


def test_progress_bar_counts_the_region(model, genome, capsys):
    saturation_mutagenesis(model, genome, "chr2:85-105", window=16, device="cpu", progress=True)
    assert "21/21" in capsys.readouterr().err
    saturation_mutagenesis(model, genome, "chr2:85-105", window=16, device="cpu", progress=False)
    assert capsys.readouterr().err == ""


def test_public_api(model, genome):
    assert gm.saturation_mutagenesis is saturation_mutagenesis
    table = gm.saturation_mutagenesis(model, TINY_FA, "chrM:1-4", window=16, rules=["GM_LLR"], device="cpu",
                                      progress=False)
    assert list(table.columns) == ["chrom", "pos", "ref", "alt", "GM_LLR"] and len(table) == 12


def test_cli_writes_tsv_and_heatmap(model, tmp_path, capsys):
    model_dir = model.save_pretrained(tmp_path / "model")
    out, png = tmp_path / "sat.tsv", tmp_path / "sat.png"
    assert main(["mutagenesis", str(model_dir), str(TINY_FA), "--region", "chr1:11-30", "-o", str(out),
                 "--plot", str(png), "--window", "24", "--device", "cpu", "-q"]) == 0
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 60 and table["pos"].min() == 11 and table["pos"].max() == 30
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "scored 60 SNVs at 20 positions" in capsys.readouterr().err


@pytest.mark.parametrize("region, message", [
    ("chrX:1-5", "no record 'chrX' in the FASTA (known: chr1, chr2, chrM)"),
    ("chrM:30-40", "runs past the end of chrM (37 bp)"),
    ("chrM-30", "expected CHROM:START-END"),
])
def test_cli_region_errors_are_one_line(model, tmp_path, capsys, region, message):
    model_dir = model.save_pretrained(tmp_path / "model")
    assert main(["mutagenesis", str(model_dir), str(TINY_FA), "--region", region, "-o", str(tmp_path / "x.tsv"),
                 "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and err.startswith("genomamba-score mutagenesis: error:")
    assert not (tmp_path / "x.tsv").exists()


def test_cli_all_n_region_has_nothing_to_plot(model, tmp_path, capsys):
    model_dir = model.save_pretrained(tmp_path / "model")
    assert main(["mutagenesis", str(model_dir), str(TINY_FA), "--region", "chr2:91-100", "-o", str(tmp_path / "x.tsv"),
                 "--plot", str(tmp_path / "x.png"), "--window", "16", "--device", "cpu", "-q"]) == 1
    assert "has no A/C/G/T base" in capsys.readouterr().err
    assert not (tmp_path / "x.tsv").exists() and not (tmp_path / "x.png").exists()


def test_heatmap_marks_reference(model, genome):
    from genomamba.evaluation.plots import plot_mutagenesis

    table = saturation_mutagenesis(model, genome, "chrM:1-10", window=16, device="cpu", progress=False)
    fig = plot_mutagenesis(table, "GM_LLR", "chrM:1-10")
    heat = fig.axes[0]
    grid = heat.images[0].get_array()
    assert grid.shape == (4, 10) and int(grid.mask.sum()) == 10  # one reference cell per position
    assert [t.get_text() for t in heat.texts] == list("TCCTGCGTTT")
    assert math.isclose(heat.images[0].norm.vmin, -heat.images[0].norm.vmax)


def test_cli_off_a_terminal_logs_lines_not_a_bar(model, tmp_path, capsys):
    """Walk-through: mutagenesis drew tqdm's `\\r` bar into a log file; now stage lines, as vcf."""
    d = model.save_pretrained(tmp_path / "m")
    assert main(["mutagenesis", str(d), str(TINY_FA), "--region", "chr2:85-94", "-o", str(tmp_path / "s.tsv"),
                 "--window", "16"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert "mutagenesis: 10 bp ...\n" in err and "mutagenesis: 10/10 bp done in " in err
