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


def test_multiclass_head_writes_numeric_fields_that_evaluate_reads(tmp_path):
    """Issue 16.3: GM_HEAD was a pipe-joined String; now Float fields bcftools and evaluate read."""
    torch.manual_seed(0)
    backbone = CharMambaLM(MambaConfig(d_model=16, n_layer=1, scan_backend="ref")).save_pretrained(tmp_path / "lm")
    head = VariantEffectModel.from_backbone(
        backbone, HeadConfig(num_classes=3, class_names=["benign", "vus", "path"], window=32, hidden_dim=8))
    head.save_pretrained(tmp_path / "head")
    out = tmp_path / "out.vcf"
    labelled = FIXTURES / "tiny_labelled.vcf"
    assert main(["vcf", str(backbone), str(FIXTURES / "tiny.fa"), str(labelled), "-o", str(out),
                 "--window", "32", "--head", str(tmp_path / "head"), "--device", "cpu", "-q"]) == 0
    with pysam.VariantFile(str(out)) as vcf:
        for key in ("GM_HEAD", "GM_HEAD_benign", "GM_HEAD_vus", "GM_HEAD_path"):
            assert vcf.header.info[key].type == "Float" and vcf.header.info[key].number == "A"
        recs = [r for r in vcf if "GM_HEAD" in r.info]
    assert recs
    for r in recs:
        p = [r.info[f"GM_HEAD_{c}"][0] for c in ("benign", "vus", "path")]
        assert abs(sum(p) - 1) < 1e-4 and abs(r.info["GM_HEAD"][0] - p[2]) < 1e-6
    assert main(["evaluate", str(out), "--label", "LABEL", "--positive", "1", "--negative", "0",
                 "--scores", "GM_HEAD", "--higher-is-positive", "-o", str(tmp_path / "eval")]) == 0
    metrics = (tmp_path / "eval" / "metrics.json").read_text()
    assert '"auroc": null' not in metrics and '"auroc": NaN' not in metrics
