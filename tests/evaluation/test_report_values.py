"""`evaluate()` label values: a comma string is several classes (the CLI's rule), and a class that
selects no rows is a one-line ConfigError (a ValueError) naming the label and its values."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from genomamba.cli import evaluate as evaluate_cli
from genomamba.errors import ConfigError
from genomamba.evaluation import evaluate
from genomamba.evaluation.report import split_values

FRAME = pd.DataFrame({
    "CSQ": ["syn", "syn", "mis", "mis", "non", "non", None],
    "GM_LLR": [0.5, 0.1, -1.0, -0.2, -3.0, -2.0, -9.0],
    "GM_DELTA": [0.1, 0.0, -0.1, 0.2, -0.5, -0.4, -1.0],
})


def test_split_values():
    assert split_values("nonsense,missense") == ["nonsense", "missense"]
    assert split_values("a, b,,") == ["a", "b"]
    assert split_values("nonsense") == ["nonsense"]  # a str is one value, not its letters
    assert split_values(["a,b", 1]) == ["a,b", "1"]  # a sequence: each item as given


def test_comma_string_is_several_classes_like_the_list():
    m_str, _ = evaluate(FRAME, "CSQ", "non,mis", "syn")
    m_list, _ = evaluate(FRAME, "CSQ", ["non", "mis"], ["syn"])
    assert set(m_str["classes"]) == {"non", "mis", "non+mis"}
    assert m_str == m_list
    union = m_str["classes"]["non+mis"]["GM_LLR"]
    assert union["n_pos"] == 4 and union["auroc"] == 1.0
    m_cols, _ = evaluate(FRAME, "CSQ", "non", score_columns="GM_LLR")  # a str score column is one column
    assert m_cols["scores"] == ["GM_LLR"] and set(m_cols["classes"]["non"]) == {"GM_LLR"}


def test_a_class_selecting_no_rows_is_an_error():
    with pytest.raises(ValueError, match=r"positive value\(s\) \['nonsense'\] select no rows; "
                                         r"label 'CSQ' has values \['mis', 'non', 'syn'\]") as e:
        evaluate(FRAME, "CSQ", "nonsense,mis")
    assert isinstance(e.value, ConfigError) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"negative value\(s\) \['synonymous'\] select no rows; label 'CSQ'"):
        evaluate(FRAME, "CSQ", "non", "synonymous")
    with pytest.raises(ConfigError, match="no negative rows"):
        evaluate(FRAME[FRAME["CSQ"] == "non"], "CSQ", "non")
    with pytest.raises(ConfigError, match="no positive label values"):
        evaluate(FRAME, "CSQ", ",")
    # rows that exist but lack a score stay metrics of None (evaluate_scores' documented behaviour)
    frame = FRAME.assign(GM_LLR=[0.5, 0.1, None, None, -3.0, -2.0, -9.0])
    m, _ = evaluate(frame, "CSQ", "mis", "syn", score_columns=["GM_LLR"])
    mis = m["classes"]["mis"]["GM_LLR"]
    assert mis["auroc"] is None and (mis["n_pos"], mis["n_missing"]) == (0, 2)


def test_cli_reports_an_empty_class(tmp_path, capsys):
    p = tmp_path / "scored.tsv"
    FRAME.assign(chrom="c", pos=range(1, 8), ref="A", alt="C").fillna({"CSQ": "."}).to_csv(p, sep="\t", index=False)
    parser = argparse.ArgumentParser(prog="genomamba-score")
    evaluate_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["evaluate", str(p), "--label", "CSQ", "--positive", "nonsense", "-o", str(tmp_path / "e")])
    assert args.func(args) == 1
    err = capsys.readouterr().err
    # the command is named once (it was "genomamba-score evaluate: error: evaluate: positive ...")
    assert err.startswith("genomamba-score evaluate: error: positive value(s) ['nonsense'] select no rows")
    assert err.count("evaluate") == 1
    assert "['mis', 'non', 'syn']" in err
