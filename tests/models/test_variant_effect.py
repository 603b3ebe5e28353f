"""Variant-effect heads: inputs, freeze modes, export and reload give identical predictions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba.alphabet import encode, reverse_complement
from genomamba.data.variant_inputs import build_inputs, collate_inputs, variant_inputs
from genomamba.errors import ConfigError, GenomambaError
from genomamba.io.fasta import GenomeSet
from genomamba.models import CharMambaLM, MambaConfig
from genomamba.models.variant_effect import HeadConfig, VariantEffectModel

FIXTURES = Path(__file__).parents[1] / "fixtures"
SNVS = [("chr1", 10, "A", "C"), ("chr1", 150, "G", "T"), ("chr2", 45, "G", "A"), ("chr2", 3, "T", "G")]


@pytest.fixture
def backbone_dir(tmp_path) -> Path:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2, scan_backend="ref")).save_pretrained(tmp_path / "backbone")


def _batch(window: int = 32) -> dict[str, torch.Tensor]:
    genome = GenomeSet([FIXTURES / "tiny.fa"])
    items = []
    for chrom, start, ref, alt in SNVS:
        assert genome.fetch(chrom, start, start + 1).upper() == ref
        items.append(variant_inputs(genome, chrom, start, ref, alt, window))
    return collate_inputs(items)


def test_build_inputs_strands_and_positions():
    ref = encode("ACGTACGTAC")
    x = build_inputs(ref, prefix=3, ref_len=2, alt=encode("G"))  # TA -> G: a deletion of one base
    assert np.array_equal(x["alt"][0], encode("ACGGCGTAC"))
    assert np.array_equal(x["ref"][1], reverse_complement(ref))
    assert np.array_equal(x["alt"][1], reverse_complement(x["alt"][0]))
    # pooled at the allele's last base: forward 3 + 2 - 1; reverse complement after rc(suffix) (5 bases)
    assert x["ref_pos"].tolist() == [4, 6] and x["alt_pos"].tolist() == [3, 5]
    # the last allele base on the reverse strand is the complement of the first on the forward strand
    assert x["ref"][1][6] == encode("A")[0] and ref[3] == encode("T")[0]


def test_collate_pads_and_batches():
    b = _batch()
    assert b["ref"].shape == (4, 2, 32) and b["alt"].shape == (4, 2, 32) and b["ref_pos"].shape == (4, 2)


@pytest.mark.parametrize("freeze,k", [("all", 0), ("last_k", 1), ("none", 0)], ids=["freeze-all", "freeze-last1", "freeze-none"])
def test_freeze_modes(backbone_dir, freeze, k):
    model = VariantEffectModel.from_backbone(backbone_dir, HeadConfig(window=32, freeze=freeze, unfreeze_last_k=k))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all(n.startswith("head.") for n in trainable if freeze == "all")
    if freeze == "last_k":
        assert any(n.startswith("backbone.layers.1.") for n in trainable)
        assert not any(n.startswith("backbone.layers.0.") or n.startswith("backbone.embedding") for n in trainable)
    if freeze == "none":
        assert trainable == {n for n, _ in model.named_parameters()}
    model.train()
    assert model.backbone.training == (freeze != "all")
    b = _batch()
    model(b["ref"], b["alt"], b["ref_pos"], b["alt_pos"]).sum().backward()
    for n, p in model.named_parameters():
        assert (p.grad is not None) == (n in trainable), f"{n}: grad {p.grad is not None}, trainable {n in trainable}"


def test_bad_configs_name_the_key(backbone_dir):
    with pytest.raises(ConfigError, match="freeze"):
        HeadConfig(freeze="some")
    with pytest.raises(ConfigError, match="unfreeze_last_k"):
        HeadConfig(freeze="last_k")
    with pytest.raises(ConfigError, match="unfreeze_last_k=5"):
        VariantEffectModel.from_backbone(backbone_dir, HeadConfig(freeze="last_k", unfreeze_last_k=5))
    with pytest.raises(ConfigError, match="class_names"):
        HeadConfig(num_classes=3, class_names=["a", "b"])


@pytest.mark.parametrize("freeze,num_classes", [("all", 2), ("last_k", 3), ("none", 2)],
                         ids=["freeze-all-C2", "freeze-last1-C3", "freeze-none-C2"])
def test_export_reload_identical_predictions(backbone_dir, tmp_path, freeze, num_classes):
    torch.manual_seed(1)
    config = HeadConfig(num_classes=num_classes, window=32, freeze=freeze, unfreeze_last_k=1 if freeze == "last_k" else 0)
    model = VariantEffectModel.from_backbone(backbone_dir, config)
    if freeze != "all":  # a fine-tuned backbone differs from its source directory
        with torch.no_grad():
            for p in model.backbone.parameters():
                if p.requires_grad:
                    p.add_(0.01 * torch.randn_like(p))
    b = _batch()
    expected = model.predict_proba(b)
    assert expected.shape == (4, num_classes)
    out = model.save_pretrained(tmp_path / "head", metadata={"note": "test"})
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "variant_head" and cfg["training"] == {"note": "test"}
    assert cfg["backbone"]["weights"] == ("referenced" if freeze == "all" else "embedded")
    reloaded = VariantEffectModel.from_pretrained(out)
    assert torch.equal(reloaded.predict_proba(b), expected)
    assert reloaded.config == model.config


def test_referenced_backbone_is_checked(backbone_dir, tmp_path):
    model = VariantEffectModel.from_backbone(backbone_dir, HeadConfig(window=32))
    out = model.save_pretrained(tmp_path / "head")
    expected = model.predict_proba(_batch())
    moved = shutil.move(str(backbone_dir), str(tmp_path / "moved"))
    with pytest.raises(GenomambaError, match="missing"):
        VariantEffectModel.from_pretrained(out)
    assert torch.equal(VariantEffectModel.from_pretrained(out, backbone_dir=moved).predict_proba(_batch()), expected)
    torch.manual_seed(5)
    CharMambaLM(MambaConfig(d_model=16, n_layer=2, scan_backend="ref")).save_pretrained(moved)  # other weights, same place
    with pytest.raises(GenomambaError, match="different weights"):
        VariantEffectModel.from_pretrained(out, backbone_dir=moved)
    # embedding on request makes the head self-contained
    out2 = model.save_pretrained(tmp_path / "head2", embed_backbone=True)
    assert torch.equal(VariantEffectModel.from_pretrained(out2).predict_proba(_batch()), expected)


def test_forward_strand_only_uses_forward_windows(backbone_dir):
    model = VariantEffectModel.from_backbone(backbone_dir, HeadConfig(window=32, strands="forward")).eval()
    b = _batch()
    garbled = {**b, "ref": b["ref"].clone(), "alt": b["alt"].clone()}
    garbled["ref"][:, 1], garbled["alt"][:, 1] = 0, 0  # reverse-complement strand ignored
    assert torch.equal(model.predict_proba(b), model.predict_proba(garbled))
