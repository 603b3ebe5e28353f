"""`--rules` of `genomamba-score vcf` and `mutagenesis`: one help text, naming the registered rules."""

from __future__ import annotations

import argparse
import re

from genomamba.cli import score_mutagenesis, score_vcf
from genomamba.scoring.zero_shot import RULES


def _help(module, command: str) -> str:
    parser = argparse.ArgumentParser(prog="genomamba-score")
    module.register(parser.add_subparsers(dest="command", required=True))
    (action,) = [a for a in parser._subparsers._group_actions[0].choices[command]._actions if "--rules" in a.option_strings]
    return action.help


def test_one_rules_help_naming_the_registered_rules():
    assert _help(score_vcf, "vcf") == _help(score_mutagenesis, "mutagenesis") == score_vcf.RULES_HELP
    default = re.search(r"\(default: all: ([\w,]+)\)", score_vcf.RULES_HELP).group(1)
    assert default.split(",") == list(RULES)
    assert "GM_DELTA = GM_LLR / (window - 1)" in score_vcf.RULES_HELP  # tests/scoring/test_delta_is_scaled_llr.py
