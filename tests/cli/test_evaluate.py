"""`genomamba-score evaluate`: AUROC/AUPRC per class and score, sign convention, outputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from genomamba.cli import evaluate

HEAD = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=CSQ,Number=1,Type=String,Description="label">\n'
    '##INFO=<ID=GM_LLR,Number=A,Type=Float,Description="score">\n'
    '##INFO=<ID=GM_DELTA,Number=A,Type=Float,Description="score">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def _vcf(tmp_path: Path) -> Path:
    rows = [
        ("syn", "A", "-0.1", "0.3"), ("syn", "A", "-0.2", "-0.1"), ("syn", "A", "0.5", "0.2"),
        ("mis", "A", "-1.0", "0.1"), ("mis", "A", "-0.15", "-0.3"),
        ("non", "A", "-3.0", "-0.5"), ("non", "A", "-2.0", "0.0"),
    ]
    body = [f"c\t{i + 1}\t.\tC\t{alt}\t.\t.\tCSQ={lab};GM_LLR={llr};GM_DELTA={d}" for i, (lab, alt, llr, d) in enumerate(rows)]
    body.append("c\t20\t.\tC\tA,G\t.\t.\tCSQ=syn,non;GM_LLR=0.1,-5;GM_DELTA=0.1,-0.9")  # Number=A labels + scores
    body.append("c\t21\t.\tC\tA\t.\tREF_MISMATCH\tCSQ=non")  # no score: counted as missing
    p = tmp_path / "scored.vcf"
    p.write_text(HEAD + "\n".join(body) + "\n")
    return p


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="genomamba-score")
    evaluate.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["evaluate", *map(str, argv)])
    return args.func(args)


def test_metrics_and_plot(tmp_path, capsys):
    out = tmp_path / "eval"
    assert _run(_vcf(tmp_path), "--label", "CSQ", "--positive", "non,mis", "--negative", "syn", "-o", out) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert (out / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    non = m["classes"]["non"]["GM_LLR"]
    # negatives: syn -0.1 -0.2 0.5 0.1; nonsense -3 -2 -5: all lower -> AUROC 1 on -score
    assert non["auroc"] == pytest.approx(1.0) and non["auprc"] == pytest.approx(1.0)
    assert (non["n_pos"], non["n_neg"], non["n_missing"]) == (3, 4, 1)
    mis = m["classes"]["mis"]["GM_LLR"]
    assert mis["auroc"] == pytest.approx(7 / 8)  # -1.0 is below all 4 negatives, -0.15 below 3 of 4
    assert set(m["classes"]) == {"non", "mis", "non+mis"}
    assert "lower score = positive" in m["direction"]
    assert "AUROC 1.0000" in capsys.readouterr().out


def test_higher_is_positive_flips(tmp_path):
    out = tmp_path / "eval"
    assert _run(_vcf(tmp_path), "--label", "CSQ", "--positive", "non", "--scores", "GM_LLR",
                "--higher-is-positive", "-o", out) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["classes"]["non"]["GM_LLR"]["auroc"] == pytest.approx(0.0)
    # default negatives: every labelled non-positive row (syn and mis)
    assert m["classes"]["non"]["GM_LLR"]["n_neg"] == 6


def test_tsv_input(tmp_path):
    p = tmp_path / "scored.tsv"
    p.write_text("chrom\tpos\tref\talt\tlabel\tfilter\tGM_LLR\n"
                 "c\t1\tA\tC\tbad\tPASS\t-2\nc\t2\tA\tC\tok\tPASS\t1\nc\t3\tA\tC\tok\tPASS\t.\n")
    out = tmp_path / "eval"
    assert _run(p, "--label", "label", "--positive", "bad", "--scores", "GM_LLR", "-o", out) == 0
    m = json.loads((out / "metrics.json").read_text())["classes"]["bad"]["GM_LLR"]
    assert m["auroc"] == 1.0 and m["n_missing"] == 1


def test_unknown_key_is_an_error(tmp_path, capsys):
    assert _run(_vcf(tmp_path), "--label", "NOPE", "--positive", "x", "-o", tmp_path / "e") == 1
    assert "no ##INFO line for 'NOPE'" in capsys.readouterr().err
