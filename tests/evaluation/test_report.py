"""`evaluate()`: the same metrics from a scored file and from a DataFrame; the figure; read_scored rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from genomamba.errors import ConfigError, VcfError
from genomamba.evaluation import evaluate, read_scored, write_evaluation

HEAD = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=CSQ,Number=A,Type=String,Description="label">\n'
    '##INFO=<ID=GM_LLR,Number=A,Type=Float,Description="score">\n'
    '##INFO=<ID=GM_DELTA,Number=A,Type=Float,Description="score">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)
BODY = [
    "c\t1\t.\tC\tA\t.\t.\tCSQ=syn;GM_LLR=-0.1;GM_DELTA=0.3",
    "c\t2\t.\tC\tA\t.\t.\tCSQ=syn;GM_LLR=0.4;GM_DELTA=-0.1",
    "c\t3\t.\tC\tA\t.\t.\tCSQ=non;GM_LLR=-3;GM_DELTA=-0.5",
    "c\t4\t.\tC\tA,G\t.\t.\tCSQ=syn,non;GM_LLR=0.1,-5;GM_DELTA=0.1,0.9",
    "c\t5\t.\tC\tA\t.\tREF_MISMATCH\tCSQ=non",
    "c\t6\t.\tC\tT\t.\t.\tGM_LLR=-1;GM_DELTA=-1",
]


@pytest.fixture
def scored(tmp_path):
    p = tmp_path / "scored.vcf"
    p.write_text(HEAD + "\n".join(BODY) + "\n")
    return p


def test_read_scored_one_row_per_alt(scored):
    df = read_scored(scored, "CSQ", ["GM_LLR", "GM_DELTA"])
    assert list(df.columns) == ["chrom", "pos", "ref", "alt", "CSQ", "GM_LLR", "GM_DELTA"]
    assert list(df["pos"]) == [1, 2, 3, 4, 4, 5, 6] and list(df["alt"]) == ["A", "A", "A", "A", "G", "A", "T"]
    assert list(df["CSQ"][:6]) == ["syn", "syn", "non", "syn", "non", "non"] and df["CSQ"].isna().tolist()[6]
    assert list(df["GM_LLR"])[:5] == [-0.1, 0.4, -3.0, 0.1, -5.0] and math.isnan(df["GM_LLR"][5])
    with pytest.raises(VcfError, match="no ##INFO line for 'NOPE'"):
        read_scored(scored, "NOPE", ["GM_LLR"])


def test_evaluate_dataframe_equals_file(scored, tmp_path):
    m_file, fig = evaluate(scored, "CSQ", "non", "syn")
    frame = pd.DataFrame({"CSQ": ["syn", "syn", "non", "syn", "non", "non", None],
                          "GM_LLR": [-0.1, 0.4, -3, 0.1, -5, None, -1], "GM_DELTA": [0.3, -0.1, -0.5, 0.1, 0.9, None, -1]})
    m_frame, _ = evaluate(frame, "CSQ", ["non"], ["syn"])
    assert m_file.pop("input") == str(scored) and m_frame.pop("input") == "<DataFrame>"
    assert m_file == m_frame
    llr = m_file["classes"]["non"]["GM_LLR"]
    assert llr["auroc"] == 1.0 and (llr["n_pos"], llr["n_neg"], llr["n_missing"]) == (2, 3, 1)
    # GM_DELTA: non -0.5 and 0.9 vs syn 0.3 -0.1 0.1 on -score: -0.5 beats all 3, 0.9 none -> 1/2
    assert m_file["classes"]["non"]["GM_DELTA"]["auroc"] == pytest.approx(0.5)
    (ax,) = fig.axes
    assert ax.get_title() == "non vs syn"  # the panel names the negatives given
    assert evaluate(frame, "CSQ", ["non"])[1].axes[0].get_title() == "non vs the rest"
    assert [ln.get_label() for ln in ax.get_lines()] == ["GM_LLR AUROC 1.000", "GM_DELTA AUROC 0.500", "_chance"]
    paths = write_evaluation(m_file, fig, tmp_path / "out")
    assert [p.name for p in paths] == ["metrics.json", "roc.png"] and all(p.stat().st_size for p in paths)


def test_evaluate_integer_labels_and_missing_column():
    frame = pd.DataFrame({"y": [1, 0, 1, 0], "s": [-2.0, 1.0, -1.0, 0.0]})
    m, _ = evaluate(frame, "y", "1", score_columns=["s"])
    assert m["classes"]["1"]["s"]["auroc"] == 1.0
    with pytest.raises(ConfigError, match=r"no column\(s\) \['GM_LLR'"):
        evaluate(frame, "y", "1")
