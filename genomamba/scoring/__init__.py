"""Scoring with trained models: per-base log-likelihoods, tracks and embeddings (no Lightning)."""

from genomamba.scoring.likelihood import (
    DEFAULT_CHUNK,
    DEFAULT_CHUNK_CUDA,
    ScoredChunk,
    Summary,
    score_records,
    score_sequence,
    summarize,
)

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_CHUNK_CUDA",
    "ScoredChunk",
    "Summary",
    "score_records",
    "score_sequence",
    "summarize",
]
