"""For an SNV in a full-width window without N, GM_DELTA = GM_LLR / (window - 1): both windows have
the same length and the same scored bases (all but the first), and the causal prefix cancels in
both rules, so GM_DELTA ranks such SNVs exactly as GM_LLR does (what the --rules help says).
Not so for indels (the alt window's length differs), nor windows clipped by a short contig or
holding N (fewer scored bases)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genomamba.io.fasta import FastaReader
from genomamba.io.vcf import read_variants
from genomamba.models.config import MambaConfig
from genomamba.models.lm import CharMambaLM
from genomamba.scoring.zero_shot import VariantScorer

WINDOW = 32


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=1, scan_backend="ref")).eval()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("delta")
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), 120))
    (d / "g.fa").write_text(f">c\n{seq}\n>n\n{'ACGT' * 10}NN{'ACGT' * 10}\n")
    comp = {"A": "C", "C": "G", "G": "T", "T": "A"}
    # SNVs at the contig edges (the window slides, keeping its width), inside, and one indel
    snvs = [(p, seq[p - 1], comp[seq[p - 1]]) for p in (1, 2, 16, 40, 61, 90, 119, 120)]
    rows = [f"c\t{p}\tsnv{p}\t{r}\t{a}\t.\t.\t." for p, r, a in snvs]
    rows.append(f"c\t50\tins\t{seq[49]}\t{seq[49]}AC\t.\t.\t.")
    rows.append("n\t40\tnear_n\tT\tA\t.\t.\t.")  # 'ACGT'*10: position 40 is T; the Ns are in its window
    (d / "v.vcf").write_text("##fileformat=VCFv4.2\n##contig=<ID=c,length=120>\n##contig=<ID=n,length=82>\n"
                             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "\n".join(rows) + "\n")
    return FastaReader(d / "g.fa", cache_dir=d / "cache"), d / "v.vcf"


@pytest.mark.parametrize("strands", ["forward", "both"])
@pytest.mark.parametrize("state_cache", [True, False])
def test_snv_delta_is_llr_over_window_minus_one(model, inputs, strands, state_cache):
    genome, vcf = inputs
    _, records = read_variants(vcf)
    scorer = VariantScorer(model, genome, window=WINDOW, strands=strands, batch_size=4, state_cache=state_cache)
    got = {r.fields[2]: (float(r.info["GM_LLR"]), float(r.info["GM_DELTA"])) for r in scorer.score(records)}
    snvs = [k for k in got if k.startswith("snv")]
    for k in snvs:
        llr, delta = got[k]
        assert delta == pytest.approx(llr / (WINDOW - 1), rel=1e-4, abs=1e-6), k
    assert sorted(snvs, key=lambda k: got[k][0]) == sorted(snvs, key=lambda k: got[k][1])
    llr, delta = got["ins"]
    assert delta != pytest.approx(llr / (WINDOW - 1), rel=1e-3)  # indels: not a rescaling
    llr, delta = got["near_n"]
    assert delta != pytest.approx(llr / (WINDOW - 1), rel=1e-3)  # N targets are not scored
