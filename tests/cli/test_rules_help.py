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


def test_strands_help_says_each_choice_and_the_real_default():
    """Walk-through: vep-cv's read 'average over both strands (default)', as if both were a flag."""
    from genomamba.cli.score import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    defaults = {}
    for command, p in sub.choices.items():
        for a in p._actions:
            if "--strands" in a.option_strings:
                assert a.help.startswith("forward: the given strand; both: averaged over"), (command, a.help)
                assert a.help.endswith(f"(default: {a.default})"), (command, a.help)
                defaults[command] = a.default
    assert defaults == {"vcf": "forward", "mutagenesis": "forward", "vep-cv": "both"}
