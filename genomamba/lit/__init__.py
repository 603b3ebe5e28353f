"""LightningModules: pretraining (and, later, variant-effect heads)."""

from genomamba.lit.pretrain import PretrainLitModule

__all__ = ["PretrainLitModule"]
