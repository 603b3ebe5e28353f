"""`genomamba-score vcf --head HEAD_DIR` adds GM_HEAD next to the zero-shot scores."""

from __future__ import annotations

from pathlib import Path

import pysam
import torch

from genomamba.cli.score import main
from genomamba.models import CharMambaLM, HeadConfig, MambaConfig, VariantEffectModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_vcf_with_head_adds_gm_head(tmp_path):
    torch.manual_seed(0)
    backbone = CharMambaLM(MambaConfig(d_model=16, n_layer=1, scan_backend="ref")).save_pretrained(tmp_path / "lm")
    head = VariantEffectModel.from_backbone(backbone, HeadConfig(num_classes=2, window=32, hidden_dim=8))
    head.save_pretrained(tmp_path / "head")
    out = tmp_path / "out.vcf"
    rc = main(["vcf", str(backbone), str(FIXTURES / "tiny.fa"), str(FIXTURES / "tiny.vcf"), "-o", str(out),
               "--window", "32", "--head", str(tmp_path / "head"), "--device", "cpu"])
    assert rc == 0
    with pysam.VariantFile(str(out)) as vcf:
        assert "GM_HEAD" in vcf.header.info and "GM_LLR" in vcf.header.info
        records = list(vcf)
    assert len(records) == 10
    by_id = {r.id: r for r in records}
    assert "REF_MISMATCH" in by_id["mismatch1"].filter and "GM_HEAD" not in by_id["mismatch1"].info
    probs = by_id["snv1"].info["GM_HEAD"]
    assert len(probs) == 1 and 0.0 <= probs[0] <= 1.0
    assert len(by_id["multi1"].info["GM_HEAD"]) == 2  # one probability per ALT
