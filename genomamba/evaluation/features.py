"""What a frozen language model gives each labelled variant: the head's backbone features
(`VariantEffectModel.features`: ref, alt and alt - ref, pooled at the site and over the window,
both strands) and the zero-shot scores GM_LLR / GM_DELTA (`genomamba.scoring.zero_shot`). The
backbone is frozen, so both are computed once for all variants, whatever the fold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from genomamba.data.variant_inputs import collate_inputs, variant_inputs
from genomamba.data.labelled_variants import LabelledVariant
from genomamba.evaluation.scored import to_float
from genomamba.io.fasta import GenomeSet
from genomamba.io.vcf import VariantRecord
from genomamba.models.variant_effect import HeadConfig, VariantEffectModel
from genomamba.models.lm import CharMambaLM
from genomamba.progress import stage
from genomamba.scoring.zero_shot import VariantScorer

__all__ = ["extract_features", "zero_shot_scores"]


def extract_features(
    backbone: CharMambaLM, genome: GenomeSet, variants: Sequence[LabelledVariant], window: int, strands: str = "both",
    batch_size: int = 32, device: str | torch.device = "cpu", progress: bool = True,
) -> np.ndarray:
    """Frozen `VariantEffectModel.features` of every variant: float32 `[n, 6 * d_model]`."""
    model = VariantEffectModel(backbone, HeadConfig(window=window, strands=strands, freeze="all")).to(device).eval()
    out = []
    with torch.inference_mode(), stage("features", len(variants), "variants", progress) as done:
        for i in range(0, len(variants), batch_size):
            chunk = variants[i : i + batch_size]
            b = collate_inputs([variant_inputs(genome, v.chrom, v.start, v.ref, v.alt, window) for v in chunk])
            out.append(model.features(*(b[k].to(device) for k in ("ref", "alt", "ref_pos", "alt_pos"))).float().cpu().numpy())
            done(len(chunk))
    return np.concatenate(out)


def zero_shot_scores(
    lm: torch.nn.Module, genome: GenomeSet, variants: Sequence[LabelledVariant], window: int, strands: str = "both",
    batch_size: int = 32, device: str | torch.device = "cpu", progress: bool = True, desc: str = "zero-shot",
) -> tuple[np.ndarray, np.ndarray]:
    """GM_LLR and GM_DELTA (nats) of every variant under the causal LM `lm`: two float64 `[n]` (NaN: unscored)."""
    scorer = VariantScorer(lm, genome, window=window, strands=strands, batch_size=batch_size, device=device,
                           rules=["GM_LLR", "GM_DELTA"])
    recs = (VariantRecord(v.chrom, v.start, v.ref, [v.alt], v.source, v.line, []) for v in variants)
    llr, delta = [], []
    with stage(desc, len(variants), "variants", progress) as done:
        for rec in scorer.score(recs):  # counts variants scored, not read
            llr.append(to_float(rec.info.get("GM_LLR")))
            delta.append(to_float(rec.info.get("GM_DELTA")))
            done(1)
    return np.array(llr), np.array(delta)
