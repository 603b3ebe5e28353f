"""LightningModules: pretraining and variant-effect heads."""

from genomamba.lit.pretrain import PretrainLitModule
from genomamba.lit.variant_effect import VariantEffectLitModule

__all__ = ["PretrainLitModule", "VariantEffectLitModule"]
