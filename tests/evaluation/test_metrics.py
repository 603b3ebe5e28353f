"""Metrics against values computed by hand: AUROC, AUPRC, per-class tables, fold summaries, text."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from genomamba.evaluation import (
    binary_metrics,
    evaluate_scores,
    fmt,
    fold_summary,
    jsonable,
    markdown_table,
    mean_sd,
    roc_points,
    summary_lines,
)


def test_binary_metrics_by_hand():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    m = binary_metrics(y, s)
    # pairs (pos, neg) ranked right: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); wrong: (0.35 < 0.4) -> 3/4
    assert m["auroc"] == pytest.approx(0.75)
    # ranked 0.8 (pos: P 1, R 1/2), 0.4 (neg), 0.35 (pos: P 2/3, R 1): AP = 1/2 * 1 + 1/2 * 2/3
    assert m["auprc"] == pytest.approx(5 / 6)
    assert m["n"] == 4


def test_binary_metrics_drops_missing_and_needs_two_classes():
    y = np.array([0, 1, 1, 0])
    m = binary_metrics(y, np.array([0.2, 0.9, np.nan, np.inf]))
    assert m == {"auroc": 1.0, "auprc": 1.0, "n": 2}
    one = binary_metrics(np.array([1, 1, 0]), np.array([0.5, 0.6, np.nan]))
    assert math.isnan(one["auroc"]) and math.isnan(one["auprc"]) and one["n"] == 2
    assert roc_points(np.array([1, 1]), np.array([0.1, 0.2])) == ([], [])
    fpr, tpr = roc_points(np.array([0, 1]), np.array([0.1, 0.2]))
    assert fpr[0] == 0.0 and fpr[-1] == 1.0 and tpr[-1] == 1.0


def test_evaluate_scores_classes_direction_and_counts():
    labels = ["syn", "syn", "mis", "non", "non", None, "syn"]
    values = {"S": [0.5, -0.2, -0.3, -2.0, np.nan, -9.0, 0.1]}
    m = evaluate_scores(labels, values, ["non", "mis"], ["syn"])
    assert set(m["classes"]) == {"non", "mis", "non+mis"}
    non = m["classes"]["non"]["S"]
    # lower = positive: -2.0 is below every syn (0.5, -0.2, 0.1); the NaN nonsense row is missing
    assert (non["n_pos"], non["n_neg"], non["n_missing"]) == (1, 3, 1) and non["auroc"] == 1.0
    union = m["classes"]["non+mis"]["S"]
    # -2.0 and -0.3 both below the 3 syn values -> 1.0; the unlabelled -9.0 is ignored
    assert union["auroc"] == 1.0 and union["n_pos"] == 2
    flipped = evaluate_scores(labels, values, ["mis"], None, higher_is_positive=True)["classes"]["mis"]["S"]
    # default negatives: syn x3 and the finite non (-2.0); mis -0.3 above -2.0 only: 1/4
    assert flipped["auroc"] == pytest.approx(1 / 4) and flipped["n_neg"] == 4
    empty = evaluate_scores(["a", "a"], {"S": [1.0, 2.0]}, ["a"])["classes"]["a"]["S"]
    assert empty["auroc"] is None and empty["fpr"] == [] and empty["n_neg"] == 0
    lines = summary_lines(m)
    assert len(lines) == 3 and "AUROC 1.0000" in lines[0] and "missing 1" in lines[0]


def test_summary_lines_line_up_with_a_long_union_label():
    """Walk-through: a union label longer than 24 characters pushed its rows out of line."""
    labels = ["nonsense", "missense", "stop_lost", "start_lost", "syn", "syn", "syn"]
    values = {"GM_LLR": [-3.0, -2.0, -1.0, -0.5, 0.1, 0.2, 0.3], "GM_DELTA": [-1.0, -0.5, 0.0, 0.1, 0.2, 0.3, 0.4]}
    m = evaluate_scores(labels, values, ["nonsense", "missense", "stop_lost", "start_lost"], ["syn"])
    lines = summary_lines(m)
    assert "nonsense+missense+stop_lost+start_lost" in m["classes"] and len(lines) == 10
    assert len({line.index(": AUROC") for line in lines}) == 1, "\n".join(lines)


def test_fold_summary_mean_sd_and_pooled():
    y = np.array([0, 1, 0, 1, 0, 1])
    oof = {"a": np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.3])}
    per_fold = [{"methods": {"a": {"auroc": 1.0, "auprc": 1.0}}}, {"methods": {"a": {"auroc": 0.5, "auprc": 0.7}}},
                {"methods": {"a": {"auroc": math.nan, "auprc": math.nan}}}]
    s = fold_summary(per_fold, y, oof)["a"]
    assert s["auroc_mean"] == pytest.approx(0.75) and s["auroc_sd"] == pytest.approx(math.sqrt(0.125))
    assert s["auprc_mean"] == pytest.approx(0.85)
    # pooled: positives 0.9 0.8 0.3 vs negatives 0.1 0.2 0.7: 0.9, 0.8 beat 3 each, 0.3 beats 2 -> 8/9
    assert s["auroc_pooled"] == pytest.approx(8 / 9)
    table = markdown_table({"a": s}, 6, 3, 3, name=lambda m: f"method {m}")
    assert "| method a | 0.750 ± 0.354 | 0.850 ± 0.212 | 0.889 |" in table
    assert table.startswith("6 variants (3 positive), 3-fold")


def test_formatting_and_json_sanitiser():
    assert fmt(0.12345) == "0.123" and fmt(math.nan) == "." and fmt(None) == "." and fmt(1.5, 6) == "1.500000"
    assert mean_sd(0.5, math.nan) == "0.500" and mean_sd(math.nan, 0.1) == "n/a" and mean_sd(0.5, 0.25) == "0.500 ± 0.250"
    x = jsonable({"a": math.nan, "b": (np.float32(0.5), np.int64(3)), "c": [math.inf, {"d": np.float64(-1.0)}]})
    assert x == {"a": None, "b": [0.5, 3], "c": [None, {"d": -1.0}]}
    json.dumps(x, allow_nan=False)
    assert type(x["b"][1]) is int
