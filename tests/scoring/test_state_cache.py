"""scoring/state_cache: alt tracks from the ref state equal whole-window tracks (SNV, MNV, indels,
both strands, window edges, Mamba and transformer states); VariantScorer with and without the
cache gives the same scores; models without a carried state fall back."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.alphabet import encode, reverse_complement
from genomamba.cli.score import main
from genomamba.io.fasta import FastaReader
from genomamba.io.vcf import read_variants
from genomamba.models.config import MambaConfig
from genomamba.models.lm import CharMambaLM
from genomamba.models.markov import MarkovLM
from genomamba.models.transformer import TransformerConfig, TransformerLM
from genomamba.scoring.state_cache import cached_tracks, supports_state_cache
from genomamba.scoring.zero_shot import VariantScorer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_FA, TINY_VCF = FIXTURES / "tiny.fa", FIXTURES / "tiny.vcf"


@pytest.fixture(scope="module")
def mamba():
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2)).eval()


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    return FastaReader(TINY_FA, cache_dir=tmp_path_factory.mktemp("cache"))


def _whole(model, genome, windows: list[np.ndarray]):
    """Whole-window tracks, one window per call (no batching, no state)."""
    scorer = VariantScorer(model, genome, window=64, state_cache=False)
    return [scorer.ll_tracks([w])[0] for w in windows]


def _sites(rng: np.random.Generator, L: int = 61):
    """Ref windows and alt windows (P + ALT + S) of every kind, forward and reverse complement."""
    refs, alts = {}, {}
    for r in range(2):
        ref = rng.integers(0, 4, L).astype(np.uint8)
        ref[7] = encode("N")[0] if r == 1 else ref[7]  # an N in the shared prefix
        refs[("+", r)], refs[("-", r)] = ref, reverse_complement(ref)
        # (offset, REF length, ALT): SNV, MNV, insertion, deletion, complex, first base, last base
        for j, (p, ref_len, alt) in enumerate([(30, 1, "G"), (20, 2, "TA"), (40, 1, "CAT"), (12, 5, "A"),
                                               (25, 3, "GGCTA"), (0, 1, "C"), (L - 1, 1, "T")]):
            win = np.concatenate([ref[:p], encode(alt), ref[p + ref_len :]])
            alts[("+", r, j)] = (("+", r), p, win)
            alts[("-", r, j)] = (("-", r), L - p - ref_len, reverse_complement(win))  # shared prefix: rc(S)
    return refs, alts


def _model(kind: str, mamba):
    torch.manual_seed(1)
    if kind == "mamba":
        return mamba
    if kind == "transformer":  # the state is a KV cache: only ALTs of one offset stack
        return TransformerLM(TransformerConfig(d_model=16, n_layer=2, n_head=2)).eval()
    return MarkovLM.fit([TINY_FA], k=3, progress=False)  # the state is the last k bases


@pytest.mark.parametrize("kind", ["mamba", "transformer", "markov"])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_cached_tracks_equal_whole_windows(kind, batch_size, mamba, genome):
    model = _model(kind, mamba)
    refs, alts = _sites(np.random.default_rng(0))
    got = cached_tracks(model, refs, alts, batch_size, torch.device("cpu"))
    keys = list(refs) + list(alts)
    want = _whole(model, genome, [refs[k] if k in refs else alts[k][2] for k in keys])
    assert set(got) == set(keys)
    for k, w in zip(keys, want):
        ll, valid = got[k]
        np.testing.assert_array_equal(valid, w.valid, err_msg=str(k))
        np.testing.assert_allclose(ll, w.ll, rtol=0, atol=1e-5, err_msg=str(k))


def _scores(model, genome, **kw) -> list[float]:
    """GM_LLR and GM_DELTA of every ALT of tiny.vcf, flat (NaN where not scored)."""
    _, records = read_variants(TINY_VCF)
    return [math.nan if v == "." else float(v) for rec in VariantScorer(model, genome, **kw).score(records)
            for key in ("GM_LLR", "GM_DELTA") for v in rec.info.get(key, ".").split(",")]


@pytest.mark.parametrize("strands", ["forward", "both"])
@pytest.mark.parametrize("window", [31, 64, 256])  # 256: wider than every contig (edge-clipped windows)
def test_scorer_same_scores_with_and_without_cache(mamba, genome, strands, window):
    kw = {"window": window, "strands": strands, "batch_size": 3}
    want = _scores(mamba, genome, state_cache=False, **kw)
    # chunk_windows=1: every record its own chunk, refs come back from the LRU and are rerun for their state
    for extra in ({}, {"chunk_windows": 1}):
        got = _scores(mamba, genome, state_cache=True, **kw, **extra)
        np.testing.assert_allclose(np.array(got, dtype=float), np.array(want, dtype=float), rtol=1e-5, atol=1e-6)


def test_cache_does_less_work(mamba, genome):
    """One ref pass plus each ALT's suffix: fewer tokens than whole alt windows, same rows."""
    tokens: dict[bool, list[int]] = {False: [], True: []}
    for cache in (False, True):
        hook = mamba.embedding.register_forward_hook(lambda m, i, o, seen=tokens[cache]: seen.append(i[0].numel()))
        try:
            _scores(mamba, genome, window=64, state_cache=cache)
        finally:
            hook.remove()
    assert sum(tokens[True]) < 0.85 * sum(tokens[False])


class _Stateless(torch.nn.Module):
    """A causal model without a carried state (no allocate_state): the cache cannot apply."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def test_models_without_state_fall_back(mamba, genome):
    assert supports_state_cache(mamba)
    wrapped = _Stateless(mamba)
    assert not supports_state_cache(wrapped)
    scorer = VariantScorer(wrapped, genome, window=64, state_cache=True)
    assert not scorer.state_cache
    assert _scores(wrapped, genome, window=64) == _scores(mamba, genome, window=64, state_cache=False)
    # the mamba_ssm scan backend takes no initial state
    assert not supports_state_cache(CharMambaLM(MambaConfig(d_model=16, n_layer=1, scan_backend="mamba_ssm")))


def test_cli_no_state_cache_same_output(mamba, tmp_path):
    model_dir = mamba.save_pretrained(tmp_path / "model")
    outs = []
    for flag in ([], ["--no-state-cache"]):
        out = tmp_path / f"out{len(outs)}.tsv"
        assert main(["vcf", str(model_dir), str(TINY_FA), str(FIXTURES / "tiny_variants.tsv"), "-o", str(out),
                     "--window", "48", "--device", "cpu", "-q", *flag]) == 0
        outs.append(out.read_text())
    rows = [[line.split("\t") for line in o.splitlines()] for o in outs]
    assert rows[0][0] == rows[1][0] and len(rows[0]) == len(rows[1]) > 1
    for a, b in zip(rows[0][1:], rows[1][1:]):
        for x, y in zip(a, b):
            if x != y:  # formatted scores may differ in the last digit
                assert math.isclose(float(x), float(y), rel_tol=1e-5, abs_tol=1e-6), (a, b)


def test_benchmark_tiny_cpu_run(tmp_path, monkeypatch, capsys):
    """benchmarks/bench_vcf_state_cache.py at a tiny scale: both paths agree, the table and JSON come out."""
    import json
    import runpy
    import sys

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "bench.json"
    monkeypatch.setattr(sys, "argv", ["bench", "--device", "cpu", "--n", "6", "--d-model", "16", "--n-layer", "1",
                                      "--windows", "64,100", "--fasta", str(root / "data" / "ecoli_mg1655.fa.gz"),
                                      "--variants", str(root / "data" / "ecoli_consequences_200kb.vcf.gz"),
                                      "--out", str(out)])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(root / "benchmarks" / "bench_vcf_state_cache.py"), run_name="__main__")
    assert exc.value.code == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["window"] for r in rows] == [64, 100] and all(r["equal"] and r["variants"] == 6 for r in rows)
    assert "| 64 |" in capsys.readouterr().out
