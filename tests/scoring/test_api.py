"""`genomamba.api` returns the values the CLI writes: the same rows, the same INFO values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pysam
import pytest
import torch

import genomamba.api as gm
from genomamba.cli.score import main
from genomamba.models import CharMambaLM, MambaConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY, TINY_VCF, TINY_TSV = FIXTURES / "tiny.fa", FIXTURES / "tiny.vcf", FIXTURES / "tiny_variants.tsv"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=1, d_state=4)).save_pretrained(tmp_path_factory.mktemp("m") / "lm")


@pytest.mark.parametrize("window", [None, 50])
def test_score_fasta_rows_equal_the_cli_tsv(model_dir, tmp_path, window):
    out = tmp_path / "out.tsv"
    extra = ["--window", str(window)] if window else []
    assert main(["fasta", str(model_dir), str(TINY), "-o", str(out), "-q", "--device", "cpu", *extra]) == 0
    lines = out.read_text().splitlines()
    df = gm.score_fasta(str(model_dir), TINY, window=window, device="cpu", progress=False)
    assert list(df.columns) == lines[0].split("\t")
    mine = ["\t".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in row) for row in df.itertuples(index=False)]
    assert mine == lines[1:]


def test_likelihood_track_matches_the_bedgraph_sum(model_dir, tmp_path):
    model = gm.load_model(model_dir)
    ll = gm.likelihood_track(model, TINY, "chr2", device="cpu")
    assert ll.shape == (150,) and math.isnan(ll[0])
    df = gm.score_fasta(model, TINY, records=["chr2"], device="cpu", progress=False)
    bpb = -np.nansum(ll.astype(np.float64)) / math.log(2) / np.count_nonzero(~np.isnan(ll))
    assert abs(bpb - df.bits_per_base[0]) < 1e-5
    part = gm.likelihood_track(model, TINY, "chr2", 10, 20, device="cpu")
    assert part.shape == (10,)


def test_embeddings_frame_and_array(model_dir):
    meta, emb = gm.embeddings(model_dir, TINY, window=100, device="cpu", progress=False)
    assert list(meta.columns) == ["name", "start", "end"] and emb.shape == (len(meta), 16)
    assert emb.dtype == np.float32 and np.isfinite(emb).all()


def test_score_variants_equals_the_vcf_info(model_dir, tmp_path):
    out = tmp_path / "out.vcf.gz"
    assert main(["vcf", str(model_dir), str(TINY), str(TINY_VCF), "-o", str(out), "--window", "32",
                 "--device", "cpu", "-q"]) == 0
    df = gm.score_variants(model_dir, TINY, TINY_VCF, window=32, device="cpu", progress=False)
    expected = []
    with pysam.VariantFile(str(out)) as vf:
        for r in vf:
            for i, alt in enumerate(r.alts or (".",)):
                llr = r.info["GM_LLR"][i] if "GM_LLR" in r.info else None
                expected.append((r.chrom, r.pos, r.ref, alt, ";".join(r.filter.keys()) or ".", llr))
    got = [(c, p, ref, alt, f, None if math.isnan(v) else v)
           for c, p, ref, alt, f, v in df[["chrom", "pos", "ref", "alt", "filter", "GM_LLR"]].itertuples(index=False)]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g[:5] == e[:5]
        assert (g[5] is None and e[5] is None) or abs(g[5] - e[5]) <= 1e-5 * max(1.0, abs(e[5])), (g, e)


def test_score_variants_keeps_tsv_columns(model_dir):
    df = gm.score_variants(model_dir, TINY, TINY_TSV, window=32, device="cpu", progress=False)
    assert {"chrom", "pos", "ref", "alt", "filter", "GM_LLR", "GM_DELTA"} <= set(df.columns)
    assert df["GM_LLR"].dtype == float
