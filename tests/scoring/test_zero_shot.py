"""scoring/variants: GM_LLR / GM_DELTA against brute force, strands, edges, REF checks, sharing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pysam
import pytest
import torch
from Bio import SeqIO

from genomamba.alphabet import N, encode, reverse_complement_str
from genomamba.errors import VcfError
from genomamba.io.fasta import FastaReader
from genomamba.io.intervals import place_window
from genomamba.io.vcf import VariantRecord, VcfWriter, read_variants
from genomamba.models.config import MambaConfig
from genomamba.models.lm import CharMambaLM
from genomamba.models.loading import load_model
from genomamba.scoring.zero_shot import FILTER_LINES, RULES, VariantScorer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_FA, TINY_VCF = FIXTURES / "tiny.fa", FIXTURES / "tiny.vcf"
UNKNOWN_VCF = FIXTURES / "tiny_unknown_contig.vcf"
WHOLE = 256  # wider than every tiny contig: the window is the whole contig


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model")
    CharMambaLM(MambaConfig(d_model=16, n_layer=1)).save_pretrained(path)
    return load_model(path, "cpu")


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    return FastaReader(TINY_FA, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def seqs() -> dict[str, str]:
    return {r.id: str(r.seq) for r in SeqIO.parse(TINY_FA, "fasta")}


def _score(model, genome, path=TINY_VCF, **kw):
    _, records = read_variants(path)
    scorer = VariantScorer(model, genome, **kw)
    return list(scorer.score(records)), scorer


def _values(rec: VariantRecord, key: str) -> list[float]:
    return [math.nan if v == "." else float(v) for v in rec.info[key].split(",")]


@torch.inference_mode()
def _brute_ll(model, seq: str) -> tuple[float, int]:
    """Sum and count of log p(x_t | x_<t) over t >= 1, N targets left out: one sequence, no batching."""
    x = torch.from_numpy(encode(seq).astype(np.int64))[None]
    logp = torch.log_softmax(model(x)[0, :-1].double(), -1)
    ll = logp.gather(-1, x[0, 1:, None]).squeeze(-1)
    keep = x[0, 1:] != N
    return float(ll[keep].sum()), int(keep.sum())


def test_output_vcf_keeps_every_record_and_flags_mismatch(model, genome, tmp_path):
    header, records = read_variants(TINY_VCF)
    scorer = VariantScorer(model, genome, window=64, strands="both", batch_size=5)
    out = tmp_path / "scored.vcf.gz"
    with VcfWriter(out, header, scorer.info_header_lines(), FILTER_LINES, contigs=genome.lengths) as w:
        for rec in scorer.score(records):
            w.write(rec)
    with pysam.VariantFile(str(out)) as vf:
        assert "natural log" in vf.header.info["GM_LLR"].description
        assert vf.header.info["GM_LLR"].number == "A"
        assert "REF_MISMATCH" in vf.header.filters
        got = list(vf)
    src = [line.split("\t") for line in TINY_VCF.read_text().splitlines() if not line.startswith("#")]
    assert [(r.chrom, r.pos, r.id, r.ref, ",".join(r.alts)) for r in got] == [
        (c[0], int(c[1]), c[2], c[3], c[4]) for c in src
    ]
    for r in got:
        if r.id == "mismatch1":
            assert list(r.filter) == ["REF_MISMATCH"]
            assert "GM_LLR" not in r.info and "GM_DELTA" not in r.info
        else:
            assert "REF_MISMATCH" not in r.filter
            for key in RULES:
                assert len(r.info[key]) == len(r.alts), (r.id, key)
                assert all(math.isfinite(v) for v in r.info[key]), (r.id, key)
    assert scorer.stats.ref_mismatch == 1 and scorer.stats.alleles_scored == 11


@pytest.mark.parametrize("strands", ["forward", "both"])
def test_llr_and_delta_equal_brute_force_full_sequence(model, genome, seqs, strands):
    recs, _ = _score(model, genome, window=WHOLE, strands=strands, batch_size=3)
    checked = 0
    for rec in recs:
        if "GM_LLR" not in rec.info:
            continue
        seq = seqs[rec.chrom].upper()
        for i, alt in enumerate(rec.alts):
            alt_seq = seq[: rec.start] + alt + seq[rec.end :]
            pairs = [(seq, alt_seq)]
            if strands == "both":
                pairs.append((reverse_complement_str(seq), reverse_complement_str(alt_seq)))
            llr, delta = [], []
            for ref_s, alt_s in pairs:
                (sr, nr), (sa, na) = _brute_ll(model, ref_s), _brute_ll(model, alt_s)
                llr.append(sa - sr)
                delta.append(sa / na - sr / nr)
            assert _values(rec, "GM_LLR")[i] == pytest.approx(np.mean(llr), abs=2e-4, rel=1e-4), rec.fields[2]
            assert _values(rec, "GM_DELTA")[i] == pytest.approx(np.mean(delta), abs=2e-6, rel=1e-4), rec.fields[2]
            checked += 1
    assert checked == 11


def test_indels_and_multiallelic_one_value_per_alt(model, genome):
    recs, _ = _score(model, genome, window=64)
    by_id = {r.fields[2]: r for r in recs}
    for rid, n in [("ins1", 1), ("del1", 1), ("mnv1", 1), ("multi1", 2), ("complex1", 2)]:
        for key in RULES:
            assert len(by_id[rid].info[key].split(",")) == n, (rid, key)
    # GM_LLR over a 2-base insertion pays for the inserted bases; distinct ALTs score differently
    assert len(set(_values(by_id["multi1"], "GM_LLR"))) == 2


def test_symbolic_alt_is_skipped_not_dropped(model, genome, tmp_path):
    p = tmp_path / "sym.vcf"
    head = "".join(line + "\n" for line in TINY_VCF.read_text().splitlines() if line.startswith("#"))
    p.write_text(head + "chr1\t11\tsym\tA\tC,<DEL>,*\t.\t.\t.\n")
    recs, scorer = _score(model, genome, path=p, window=32)
    assert recs[0].info["GM_LLR"].split(",")[1:] == [".", "."]
    assert math.isfinite(float(recs[0].info["GM_LLR"].split(",")[0]))
    assert scorer.stats.alleles_skipped == 2 and scorer.stats.alleles_scored == 1


def test_windows_clip_at_contig_edges():
    for length in (37, 150, 200):
        for start in range(length):
            for ref_len in (1, 3):
                end = min(start + ref_len, length)
                for window in (8, 31, 64, 1000):
                    ws, we = place_window(start, end, length, window)
                    assert 0 <= ws <= start and end <= we <= length
                    assert we - ws == max(min(window, length), end - start), (length, start, end, window)
    assert place_window(100, 101, 200, 20) == (90, 110)  # centred
    assert place_window(0, 1, 200, 20) == (0, 20) and place_window(199, 200, 200, 20) == (180, 200)


def test_edge_variants_match_brute_force_in_clipped_windows(model, genome, seqs):
    recs, _ = _score(model, genome, window=16)
    by_id = {r.fields[2]: r for r in recs}
    for rid, (lo, hi) in {"edge_end": (184, 200), "edge_start": (0, 16)}.items():
        rec = by_id[rid]
        ref = seqs[rec.chrom].upper()[lo:hi]
        alt = ref[: rec.start - lo] + rec.alts[0] + ref[rec.end - lo :]
        expect = _brute_ll(model, alt)[0] - _brute_ll(model, ref)[0]
        assert _values(rec, "GM_LLR")[0] == pytest.approx(expect, abs=1e-4), rid


def _rc_genome(tmp_path: Path, seqs: dict[str, str]) -> FastaReader:
    p = tmp_path / "rc.fa"
    p.write_text("".join(f">{k}\n{reverse_complement_str(v)}\n" for k, v in seqs.items()))
    return FastaReader(p, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("window", [WHOLE, 63], ids=["whole-contig", "W63"])
def test_both_strand_score_is_reverse_complement_symmetric(model, genome, seqs, tmp_path, window):
    rc_genome = _rc_genome(tmp_path, seqs)
    _, records = read_variants(TINY_VCF)
    recs = [r for r in records if r.fields[2] in ("snv1", "mnv1", "ins1", "del1", "multi1", "softmasked")]
    if window != WHOLE:  # mirror-image windows need start + end + window even
        recs = [r for r in recs if (r.start + r.end + window) % 2 == 0]
        assert recs
    mirrored = []
    for r in recs:
        length = genome.lengths[r.chrom]
        alts = [reverse_complement_str(a) for a in r.alts]
        mirrored.append(VariantRecord(r.chrom, length - r.end, reverse_complement_str(r.ref), alts, "rc", r.line, list(r.fields)))
    fwd = list(VariantScorer(model, genome, window=window, strands="both").score(recs))
    rev = list(VariantScorer(model, rc_genome, window=window, strands="both").score(mirrored))
    for a, b in zip(fwd, rev):
        for key in RULES:
            np.testing.assert_allclose(_values(a, key), _values(b, key), rtol=1e-4, atol=2e-5, err_msg=f"{a.fields[2]} {key}")
    # and the forward strand alone is not symmetric (so the test has teeth)
    f1 = list(VariantScorer(model, genome, window=window).score(recs[:1]))[0]
    r1 = list(VariantScorer(model, rc_genome, window=window).score(mirrored[:1]))[0]
    assert _values(f1, "GM_LLR") != pytest.approx(_values(r1, "GM_LLR"), abs=1e-6)


def test_unknown_contig_error_names_contig_file_and_line(model, genome):
    with pytest.raises(VcfError, match=r"tiny_unknown_contig\.vcf:12: contig 'chrUn' is not in the reference"):
        _score(model, genome, path=UNKNOWN_VCF, window=32)


def test_unknown_contig_flag(model, genome):
    recs, scorer = _score(model, genome, path=UNKNOWN_VCF, window=32, unknown_contig="flag")
    assert len(recs) == 3
    assert recs[1].filters == ["UNKNOWN_CONTIG"] and not recs[1].info
    assert "GM_LLR" in recs[0].info and "GM_LLR" in recs[2].info
    assert scorer.stats.unknown_contig == 1


class _Counting(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.rows, self.calls = inner, 0, 0

    def forward(self, tokens, *a, **kw):
        self.rows += tokens.shape[0]
        self.calls += 1
        return self.inner(tokens, *a, **kw)


def test_shared_reference_windows_scored_once(model, genome, tmp_path):
    head = "".join(line + "\n" for line in TINY_VCF.read_text().splitlines() if line.startswith("#"))
    line = "chr1\t71\tmulti1\tT\tA,C,G\t.\t.\t.\n"
    p = tmp_path / "dup.vcf"
    p.write_text(head + line * 3)
    counting = _Counting(model)
    # 3 records x 3 ALTs share one reference window and repeat the same 3 alt windows
    recs, scorer = _score(counting, genome, path=p, window=32, batch_size=2, chunk_windows=2)
    assert counting.rows == 1 + 3 + 3 + 3, "ref once (cached across chunks); alts once per chunk"
    assert scorer.stats.windows_scored == counting.rows and scorer.stats.model_calls == counting.calls
    assert recs[0].info == recs[1].info == recs[2].info
    counting.rows = 0
    _score(counting, genome, path=p, window=32, strands="both", chunk_windows=10_000)
    assert counting.rows == 2 * (1 + 3), "one chunk: each distinct window once per strand"


def test_scores_do_not_depend_on_batching(model, genome):
    a, _ = _score(model, genome, window=48, batch_size=1)
    b, _ = _score(model, genome, window=48, batch_size=7, chunk_windows=3)
    for x, y in zip(a, b):
        for key in x.info:
            np.testing.assert_allclose(_values(x, key), _values(y, key), rtol=1e-4, atol=1e-5)


def test_log2_is_nats_over_ln2(model, genome):
    e, _ = _score(model, genome, window=32)
    b, _ = _score(model, genome, window=32, log_base="2")
    for x, y in zip(e, b):
        if "GM_LLR" in x.info:
            np.testing.assert_allclose(np.array(_values(x, "GM_LLR")) / math.log(2), _values(y, "GM_LLR"), rtol=1e-4)


def test_alleles_with_n_are_not_scored(model, genome, tmp_path):
    """Issue 9.12: an ALT with N got a spurious GM_LLR (its N target was dropped from one side only)."""
    p = tmp_path / "n.vcf"
    head = "".join(line + "\n" for line in TINY_VCF.read_text().splitlines() if line.startswith("#"))
    p.write_text(head + "chr1\t11\tn\tA\tC,N,CNA\t.\t.\t.\n")
    recs, scorer = _score(model, genome, path=p, window=32)
    for key in RULES:
        values = recs[0].info[key].split(",")
        assert values[1:] == [".", "."], (key, values)
        assert math.isfinite(float(values[0]))
    assert scorer.stats.alleles_skipped == 2 and scorer.stats.alleles_scored == 1
