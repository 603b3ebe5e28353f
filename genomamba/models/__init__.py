"""Models: config dataclasses and CharMambaLM."""

from genomamba.models.config import MambaConfig
from genomamba.models.lm import CharMambaLM

__all__ = ["CharMambaLM", "MambaConfig"]
