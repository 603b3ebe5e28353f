"""Command-line entry points: genomamba-train (Hydra) and genomamba-score."""
