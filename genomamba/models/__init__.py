"""Models: config dataclasses and CharMambaLM."""

from genomamba.models.config import MambaConfig
from genomamba.models.lm import CharMambaLM
from genomamba.models.markov import MarkovLM
from genomamba.models.registry import load_model

__all__ = ["CharMambaLM", "MambaConfig", "MarkovLM", "load_model"]
