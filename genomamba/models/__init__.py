"""Models: config dataclasses, CharMambaLM, the transformer and Markov baselines, variant-effect heads."""

from genomamba.models.config import MambaConfig
from genomamba.models.lm import CharMambaLM
from genomamba.models.loading import load_model
from genomamba.models.markov import MarkovConfig, MarkovLM
from genomamba.models.transformer import TransformerConfig, TransformerLM
from genomamba.models.variant_effect import HeadConfig, VariantEffectModel

__all__ = [
    "CharMambaLM", "HeadConfig", "MambaConfig", "MarkovConfig", "MarkovLM", "TransformerConfig", "TransformerLM",
    "VariantEffectModel", "load_model",
]
