"""Models: config dataclasses, CharMambaLM, the Markov baseline and variant-effect heads."""

from genomamba.models.config import MambaConfig
from genomamba.models.heads import HeadConfig, VariantEffectModel
from genomamba.models.lm import CharMambaLM
from genomamba.models.markov import MarkovLM
from genomamba.models.loading import load_model

__all__ = ["CharMambaLM", "HeadConfig", "MambaConfig", "MarkovLM", "VariantEffectModel", "load_model"]
