"""The models shipped in the package load by name and model DNA as their cards say."""

from pathlib import Path

import pytest
import torch

import genomamba as gm
from genomamba.errors import GenomambaError
from genomamba.pretrained import PRETRAINED, pretrained_dir, resolve_model_dir

DATA = Path(__file__).resolve().parents[2] / "data"
HUMAN = Path(__file__).resolve().parents[1] / "fixtures" / "human_chr20_60000000-60020000.fa.gz"


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_shipped_model_is_small_and_documented(name):
    d = pretrained_dir(name)
    assert (d / "model.safetensors").stat().st_size < 10_000_000
    card = (d / "README.md").read_text()
    for key in ("training data", "validation", "Reproduce", "Intended use"):
        assert key in card, f"{name} card lacks {key!r}"


def test_name_resolves_only_when_no_such_path(tmp_path, monkeypatch):
    assert resolve_model_dir("human-small") == pretrained_dir("human-small")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "human-small").mkdir()  # a user's own directory of that name wins
    assert resolve_model_dir("human-small") == Path("human-small")
    with pytest.raises(GenomambaError, match="nor a shipped model: bacteria-small, human-small"):
        gm.load_model("no-such-model", device="cpu")


@pytest.mark.parametrize("name, limit", [("bacteria-small", 1.95), ("human-small", 2.02)])
def test_shipped_model_scores_lambda_by_name(name, limit):
    """Each shipped model scores the bundled phage lambda genome (48.5 kbp) by name, below
    uniform (2 bits) for the bacterial one, near it for the human one (a phage is foreign to it)."""
    table = gm.score_fasta(name, DATA / "lambda_phage.fa.gz", device="cpu", progress=False)
    assert table["scored_bases"].iloc[0] == 48501
    assert table["bits_per_base"].iloc[0] < limit


def test_human_model_knows_human_dna_better_than_the_bacterial_one():
    """On 20 kbp of chromosome 20 held back from its training, human-small beats bacteria-small
    clearly (measured 1.810 vs 1.980 bits per base) and beats uniform."""
    human = gm.score_fasta("human-small", HUMAN, device="cpu", progress=False)["bits_per_base"].iloc[0]
    bact = gm.score_fasta("bacteria-small", HUMAN, device="cpu", progress=False)["bits_per_base"].iloc[0]
    assert human < 1.9 and human < bact - 0.1


def test_shipped_weights_load_as_fp32_and_match_card():
    m = gm.load_model("bacteria-small", device="cpu")
    assert m.num_parameters == 3_506_432
    assert all(p.dtype == torch.float32 for p in m.parameters())
    assert m.training_metadata["task_name"] == "pretrain_bacteria_backbone"
