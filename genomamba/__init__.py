"""genomamba: chromosome-scale character-level Mamba for DNA."""

__version__ = "0.1.0"
