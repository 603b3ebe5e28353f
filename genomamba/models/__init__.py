"""Models: config dataclasses, CharMambaLM, the Markov baseline and variant-effect heads."""

from genomamba.models.config import MambaConfig
from genomamba.models.lm import CharMambaLM
from genomamba.models.loading import load_model
from genomamba.models.markov import MarkovConfig, MarkovLM
from genomamba.models.variant_effect import HeadConfig, VariantEffectModel

__all__ = [
    "CharMambaLM", "HeadConfig", "MambaConfig", "MarkovConfig", "MarkovLM", "VariantEffectModel", "load_model",
]
