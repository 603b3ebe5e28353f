"""`genomamba-score vcf` through its own subparser: outputs, summary, errors, --limit, TSV."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pysam
import pytest
import torch

from genomamba.cli import score_vcf
from genomamba.cli.score import main
from genomamba.models.config import MambaConfig
from genomamba.models.lm import CharMambaLM

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_FA, TINY_VCF, TINY_TSV = FIXTURES / "tiny.fa", FIXTURES / "tiny.vcf", FIXTURES / "tiny_variants.tsv"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=1)).save_pretrained(tmp_path_factory.mktemp("model"))


def _run(*argv: str) -> int:
    """Through `main`, the one place errors become one line and exit status 1."""
    return main(["vcf", *map(str, argv)])


def test_scores_vcf_to_bgzip_with_summary(model_dir, tmp_path, capsys):
    out = tmp_path / "out.vcf.gz"
    rc = _run(model_dir, TINY_FA, TINY_VCF, "-o", out, "--window", 32, "--strands", "both", "--batch-size", 4,
              "--device", "cpu")
    assert rc == 0
    err = capsys.readouterr().err
    assert "scored 11 alleles in 10 records" in err and "variants/s" in err
    assert "REF mismatches: 1" in err and "unknown contigs: 0" in err
    assert (tmp_path / "out.vcf.gz.tbi").is_file()
    with pysam.VariantFile(str(out)) as vf:
        assert "genomamba_scoreCommand" in str(vf.header)
        recs = list(vf)
    assert len(recs) == 10
    assert sum("REF_MISMATCH" in r.filter for r in recs) == 1
    assert all(len(r.info["GM_LLR"]) == len(r.alts) for r in recs if "REF_MISMATCH" not in r.filter)


def test_unknown_contig_error_and_flag(model_dir, tmp_path, capsys):
    out = tmp_path / "out.vcf"
    assert _run(model_dir, TINY_FA, FIXTURES / "tiny_unknown_contig.vcf", "-o", out, "--window", 16) == 1
    err = capsys.readouterr().err
    assert "contig 'chrUn'" in err and "tiny_unknown_contig.vcf:12" in err
    assert not out.exists(), "nothing half-written"
    assert _run(model_dir, TINY_FA, FIXTURES / "tiny_unknown_contig.vcf", "-o", out, "--window", 16,
                "--unknown-contig", "flag") == 0
    assert "unknown contigs: 1" in capsys.readouterr().err
    with pysam.VariantFile(str(out)) as vf:
        recs = list(vf)
    assert len(recs) == 3 and list(recs[1].filter) == ["UNKNOWN_CONTIG"]


def test_limit_and_log2(model_dir, tmp_path):
    out = tmp_path / "out.vcf"
    assert _run(model_dir, TINY_FA, TINY_VCF, "-o", out, "--window", 16, "--limit", 3, "--log-base", "2") == 0
    with pysam.VariantFile(str(out)) as vf:
        assert "log2 (bits)" in vf.header.info["GM_DELTA"].description
        recs = list(vf)
    assert [r.id for r in recs] == ["snv1", "mnv1", "ins1"]


def test_tsv_in_tsv_out(model_dir, tmp_path):
    out = tmp_path / "out.tsv"
    assert _run(model_dir, TINY_FA, TINY_TSV, "-o", out, "--window", 16, "--rules", "GM_LLR") == 0
    lines = [line.split("\t") for line in out.read_text().splitlines()]
    assert lines[0] == ["chrom", "pos", "ref", "alt", "gene", "label", "filter", "GM_LLR"]
    assert len(lines) == 8
    assert lines[6][6] == "REF_MISMATCH" and lines[6][7] == "."
    assert len(lines[5][7].split(",")) == 2 and all(math.isfinite(float(v)) for v in lines[5][7].split(","))


def test_vcf_to_tsv_is_refused(model_dir, tmp_path, capsys):
    assert _run(model_dir, TINY_FA, TINY_VCF, "-o", tmp_path / "x.tsv", "--window", 16) == 1
    assert "TSV output needs a TSV input" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--window", "--batch-size"])
@pytest.mark.parametrize("value", ["0", "-3"])
def test_zero_window_and_batch_size_are_rejected(model_dir, tmp_path, capsys, flag, value):
    """Issue 9.11: `--window 0` became 8192 and `--batch-size 0` became 1."""
    with pytest.raises(SystemExit) as e:
        _run(model_dir, TINY_FA, TINY_VCF, "-o", tmp_path / "o.vcf", flag, value)
    assert e.value.code == 2 and flag in capsys.readouterr().err


def test_default_window_follows_the_model(tmp_path, capsys):
    """Issue 16.7: the default was 8192 bp for every model."""
    from genomamba.models import MarkovLM

    markov = tmp_path / "markov"
    assert main(["fit-markov", "-k", "3", "-o", str(markov), str(TINY_FA), "-q"]) == 0
    assert MarkovLM.from_pretrained(markov).config.k == 3
    assert _run(markov, TINY_FA, TINY_VCF, "-o", tmp_path / "m.vcf", "-q") == 0
    assert "window 9," in capsys.readouterr().err  # 2 (k + 1) + 1
    torch.manual_seed(0)
    lm = CharMambaLM(MambaConfig(d_model=16, n_layer=1))
    trained = lm.save_pretrained(tmp_path / "lm", metadata={"data": {"window": 48}})
    assert _run(trained, TINY_FA, TINY_VCF, "-o", tmp_path / "t.vcf", "-q") == 0
    assert "window 48," in capsys.readouterr().err


def test_progress_counts_variants_scored_and_logs_stages(model_dir, tmp_path, capsys):
    """Issue 16.6: the bar counted records read (100% at once with --limit), nothing off a TTY."""
    from genomamba.scoring.runs import prepare_variants, write_variants

    job = prepare_variants(model_dir, TINY_FA, TINY_VCF, window=16, device="cpu", limit=4)
    assert job.total == 4
    assert prepare_variants(model_dir, TINY_FA, TINY_VCF, window=16, device="cpu").total == 10
    seen, totals = [], []
    n, _ = write_variants(job, tmp_path / "o.vcf", progress=seen.append, set_total=totals.append)
    assert n == 4 and seen == [1, 1, 1, 1] and totals == [4]
    assert _run(model_dir, TINY_FA, TINY_VCF, "-o", tmp_path / "p.vcf", "--window", 16, "--limit", 3) == 0
    err = capsys.readouterr().err  # stderr is not a terminal here: one line per stage
    assert "genomamba-score vcf: loading" in err and "genomamba-score vcf: scoring 3 records" in err
    assert "genomamba-score vcf: writing" in err


def test_header_command_reproduces_the_run(model_dir, tmp_path):
    """Walk-through: `##genomamba_scoreCommand` left out options (`--limit 300`), so it did not
    reproduce the run. Parsed back, it gives the run's options (less --resume and -q)."""
    import shlex

    from genomamba.cli.score import build_parser

    out = tmp_path / "out.vcf"
    argv = [str(model_dir), str(TINY_FA), str(TINY_VCF), "-o", str(out), "--window", "16", "--limit", "3",
            "--log-base", "2", "--rules", "GM_LLR", "--batch-size", "2", "--device", "cpu", "--no-state-cache",
            "--unknown-contig", "flag", "-q"]
    assert _run(*argv) == 0
    (line,) = [x for x in out.read_text().splitlines() if x.startswith("##genomamba_scoreCommand=")]
    recorded = shlex.split(line.split("=", 1)[1])
    assert recorded[:2] == ["genomamba-score", "vcf"] and "--limit" in recorded and "--resume" not in recorded
    given, again = vars(build_parser().parse_args(["vcf", *argv])), vars(build_parser().parse_args(recorded[1:]))
    for skip in ("quiet", "resume"):
        given.pop(skip), again.pop(skip)
    assert again == given


def test_off_a_terminal_scoring_logs_a_line_a_minute(model_dir, tmp_path, capsys, monkeypatch):
    """Walk-through: with stderr to a file, "scoring 50000 records" then nothing for minutes."""
    from genomamba import progress

    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # every update is a minute late
    assert _run(model_dir, TINY_FA, TINY_VCF, "-o", tmp_path / "o.vcf", "--window", 16, "--limit", 3) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert "scoring: 3 variants ...\n" in err and "scoring: 1/3 variants (" in err and "ETA" in err
    assert "scoring: 3/3 variants done in " in err


def _terminated_after(monkeypatch, n: int) -> None:
    """Make scoring stop with SIGTERM's exception after `n` records (the handler raises it)."""
    from genomamba.atomic import Terminated
    from genomamba.scoring import runs

    real = runs.scored_variants

    def scored(run, skip=0):
        for i, rec in enumerate(real(run, skip)):
            if i == n:
                raise Terminated()
            yield rec

    monkeypatch.setattr(runs, "scored_variants", scored)


def test_sigterm_line_names_the_kept_partial_and_resume(model_dir, tmp_path, capsys, monkeypatch):
    """Walk-through: 'terminated (SIGTERM); the target files are unchanged' did not say that the
    `.partial` file was kept, nor that --resume continues it."""
    out = tmp_path / "o.vcf"
    args = (model_dir, TINY_FA, TINY_VCF, "-o", out, "--window", 16, "-q")
    with monkeypatch.context() as m:
        _terminated_after(m, 4)
        assert _run(*args) == 143
    err = capsys.readouterr().err
    partial = tmp_path / ".o.vcf.partial"
    assert err == (f"genomamba-score vcf: terminated (SIGTERM); the target files are unchanged; the partial output "
                   f"was kept ({partial}): rerun with --resume to continue it\n")
    assert not out.exists() and partial.exists()
    assert _run(*args, "--resume") == 0 and out.exists() and not partial.exists()
    assert " in 6 records " in capsys.readouterr().err  # the other 4 came from the partial


def test_sigterm_with_nothing_kept_says_only_unchanged(model_dir, tmp_path, capsys, monkeypatch):
    _terminated_after(monkeypatch, 1)
    assert _run(model_dir, TINY_FA, TINY_VCF, "-o", "-", "--window", 16, "-q") == 143  # stdout: no partial
    assert capsys.readouterr().err == "genomamba-score vcf: terminated (SIGTERM); the target files are unchanged\n"


def test_resume_without_a_partial_says_so(model_dir, tmp_path, capsys):
    """Walk-through: `--resume` with no partial output silently scored everything again."""
    out = tmp_path / "o.vcf"
    assert _run(model_dir, TINY_FA, TINY_VCF, "-o", out, "--window", 16, "-q", "--resume") == 0
    err = capsys.readouterr().err
    assert (f"genomamba-score vcf: --resume: no partial output found at {tmp_path / '.o.vcf.partial'}; "
            "starting from the beginning\n") in err
    assert "scored 11 alleles in 10 records" in err
