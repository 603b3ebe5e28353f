"""MarkovLM: an order-k interpolated Markov model over A C G T, the classic DNA baseline.

Counts of every (j+1)-mer, j = 0..k, are gathered from FASTA files in one streaming pass (both
strands optional). Orders are interpolated bottom-up with a Dirichlet prior centred on the next
lower order (hierarchical add-alpha smoothing, MacKay & Peto 1995; the "interpolated Markov
model" of GLIMMER, Salzberg et al. 1998, with a fixed prior strength):

    P_0(b)       = (c(b) + alpha) / (n + 4 alpha)
    P_j(b | ctx) = (c(ctx b) + 4 alpha P_{j-1}(b | ctx[1:])) / (c(ctx) + 4 alpha)

so a context never seen falls back smoothly to the shorter one. A context that contains an N (or
any non-ACGT token, e.g. the start of a record) is cut at its last non-ACGT token and scored with
the longest clean suffix, down to order 0.

It exposes CharMambaLM's scoring interface: `forward(tokens [B, L], state, return_state)` returns
log-probabilities `[B, L, 8]` usable as logits (entry t predicts token t+1; N and the specials get
`NEG_LOGPROB`, probability 0), the state is the last k tokens, so chunked scoring equals one pass.
A model directory holds config.json ("model_type": "markov") + model.safetensors (the counts).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genomamba import __version__
from genomamba.alphabet import PAD, TOKENS, VOCAB_SIZE, reverse_complement
from genomamba.device import resolve_device
from genomamba.errors import ConfigError, GenomambaError
from genomamba.models.config import ConfigDictMixin
from genomamba.models.directory import (
    WEIGHTS_NAME,
    check_tensors,
    read_typed_config,
    read_weights,
    write_model_directory,
)
from genomamba.progress import Progress, stage

MODEL_TYPE = "markov"
MAX_ORDER = 12  # the order-12 table alone is 4^13 floats (128 MiB); beyond that use a real LM
# log-probability of N and the special tokens: exp() is exactly 0 in fp32, yet finite, so
# 0 * NEG_LOGPROB stays 0 (an entropy or expectation never turns into NaN)
NEG_LOGPROB = -1e4

__all__ = ["MarkovConfig", "MarkovLM", "NEG_LOGPROB"]


@dataclass
class MarkovConfig(ConfigDictMixin):
    """Order and smoothing of a MarkovLM."""

    k: int = 6  # context length; tables for every order 0..k are kept
    alpha: float = 1.0  # pseudo-count per base; the prior mass toward order j-1 is 4 * alpha
    both_strands: bool = False  # counts include the reverse complement (recorded, not used at scoring)

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or isinstance(self.k, bool) or not 0 <= self.k <= MAX_ORDER:
            raise ConfigError(f"MarkovConfig.k must be an integer in [0, {MAX_ORDER}], got {self.k!r}")
        if not isinstance(self.alpha, (int, float)) or isinstance(self.alpha, bool) or not self.alpha > 0:
            raise ConfigError(f"MarkovConfig.alpha must be > 0, got {self.alpha!r}")
        self.alpha = float(self.alpha)
        self.both_strands = bool(self.both_strands)


def _kmer_codes(ext: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Base-4 code of the `width`-mer ending at each position and the clean-run length there.

    Args:
        ext: tokens `[..., T]` (int64); anything >= 4 (N, specials) breaks a run.
        width: how many tokens each code covers (the most recent is the least significant digit).

    Returns:
        codes `[..., T]` int64 (digits of non-ACGT tokens count as 0; callers mask with `run`),
        run `[..., T]` int64: number of consecutive ACGT tokens ending at each position.
    """
    valid = ext < 4
    digits = np.where(valid, ext, 0)
    codes = np.zeros_like(digits)
    for i in range(width):  # codes[t] = sum_i digits[t - i] * 4^i
        codes[..., i:] += digits[..., : digits.shape[-1] - i] << (2 * i)
    t = np.arange(ext.shape[-1])
    last_bad = np.maximum.accumulate(np.where(valid, -1, t), axis=-1)
    return codes, t - last_bad


class MarkovLM(nn.Module):
    """tokens `[B, L]` (int) -> log-probabilities `[B, L, 8]`; entry t predicts token t+1.

    Args:
        config: order and smoothing.
        counts: per order j = 0..k an int64 array `[4^j, 4]` (row = context code, oldest base
            most significant; column = next base). None: all zero (a uniform model).
    """

    model_type = MODEL_TYPE

    def __init__(self, config: MarkovConfig, counts: list[np.ndarray] | None = None):
        super().__init__()
        self.config = config
        k = config.k
        if counts is None:
            counts = [np.zeros((4**j, 4), np.int64) for j in range(k + 1)]
        if len(counts) != k + 1 or any(c.shape != (4**j, 4) for j, c in enumerate(counts)):
            raise ConfigError(f"MarkovLM(k={k}) needs counts of shapes [(4^j, 4) for j in 0..{k}]")
        self.counts = [np.asarray(c, np.int64) for c in counts]
        self.training_metadata: dict = {}
        # offsets[j]: first row of order j in the flat table
        self._offsets = np.cumsum([0] + [4**j for j in range(k)]).astype(np.int64)
        self.register_buffer("log_probs", self._smoothed_log_probs(), persistent=False)

    def _smoothed_log_probs(self) -> torch.Tensor:
        """Flat table `[sum_j 4^j, 4]` float32 of log P_j(next | ctx), orders stacked 0..k."""
        alpha = self.config.alpha
        tables = []
        lower = np.full((1, 4), 0.25)
        for j, c in enumerate(self.counts):
            c = c.astype(np.float64)
            # the order j-1 context of ctx is its j-1 most recent bases: ctx code mod 4^(j-1)
            prior = lower[np.arange(4**j) % lower.shape[0]] if j else lower
            p = (c + 4 * alpha * prior) / (c.sum(1, keepdims=True) + 4 * alpha)
            tables.append(p)
            lower = p
        return torch.from_numpy(np.log(np.concatenate(tables))).float()

    # ---- scoring ----
    def allocate_state(self, batch: int, device: str | torch.device | None = None) -> torch.Tensor:
        """The empty context: `[B, k]` of PAD (no bases seen)."""
        return torch.full((batch, self.config.k), PAD, dtype=torch.long, device=device)

    def forward(
        self, tokens: torch.Tensor, state: torch.Tensor | None = None, return_state: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """tokens `[B, L]` -> log-probs `[B, L, 8]` (and the state: the last k tokens `[B, k]`).

        Entry t is the distribution of token t+1 given tokens <= t (and the state before them).
        """
        k = self.config.k
        B, L = tokens.shape
        if state is None:
            state = self.allocate_state(B, tokens.device)
        ext = torch.cat([state.to(tokens.device).long(), tokens.long()], dim=1)  # (B, k + L)
        codes, run = _kmer_codes(ext.cpu().numpy(), max(k, 1))
        order = np.minimum(run, k)[:, k:]  # (B, L): longest clean context ending at each t
        rows = self._offsets[order] + (codes[:, k:] & ((1 << (2 * order)) - 1))
        rows_t = torch.from_numpy(rows).to(self.log_probs.device)
        out = self.log_probs.new_full((B, L, VOCAB_SIZE), NEG_LOGPROB)
        out[..., :4] = self.log_probs[rows_t]
        new_state = ext[:, ext.shape[1] - k :]
        return (out, new_state) if return_state else out

    def hidden_states(self, tokens: torch.Tensor, state: torch.Tensor | None = None):
        raise GenomambaError("a MarkovLM has no hidden states: embeddings need a neural model (char_mamba)")

    @property
    def num_parameters(self) -> int:
        return int(sum(c.size for c in self.counts))

    # ---- fitting ----
    def update(self, stream: Iterable[np.ndarray]) -> int:
        """Add the k-mer counts of one sequence given as consecutive token chunks.

        Args:
            stream: uint8/int token arrays `[n]` that together form one sequence (a record or
                its reverse complement); the last k tokens are carried across chunks.

        Returns:
            The number of tokens consumed.
        """
        k = self.config.k
        carry = np.full(k, PAD, np.int64)
        total = 0
        for chunk in stream:
            ext = np.concatenate([carry, chunk.astype(np.int64)])
            codes, run = _kmer_codes(ext, k + 1)
            codes, run = codes[k:], run[k:]  # (j+1)-mers ending in this chunk only
            for j in range(k + 1):
                sel = codes[run >= j + 1] & ((1 << (2 * (j + 1))) - 1)
                self.counts[j] += np.bincount(sel, minlength=4 ** (j + 1)).reshape(4**j, 4)
            carry = ext[ext.shape[0] - k :]
            total += chunk.shape[0]
        self.log_probs = self._smoothed_log_probs().to(self.log_probs.device)
        return total

    @classmethod
    def fit(
        cls,
        paths: Iterable[str | Path],
        k: int = 6,
        alpha: float = 1.0,
        both_strands: bool = False,
        chunk: int = 1 << 20,
        progress: bool = True,
    ) -> MarkovLM:
        """Count k-mers of every record of the FASTA files, streaming `chunk` bases at a time.

        Args:
            paths: FASTA files (plain, gzip or bgzip).
            k: order (context length).
            alpha: smoothing pseudo-count per base.
            both_strands: also count the reverse complement of every record.
            chunk: bases read per step (memory is O(chunk + 4^k)).
            progress: report progress (a bar on a terminal, a line a minute otherwise: bases counted, and the one-off gunzip of a plain-gzip file).

        Raises:
            ConfigError: bad k or alpha. FastaError: unreadable input (names the file).
        """
        from genomamba.io.fasta import GenomeSet

        paths = [Path(p) for p in paths]
        model = cls(MarkovConfig(k=k, alpha=alpha, both_strands=both_strands))
        genome = GenomeSet(paths, progress=progress)
        lengths = genome.lengths
        total = sum(lengths.values()) * (2 if both_strands else 1)
        with genome, stage("fit-markov", total, "bp", enabled=progress, unit_scale=True) as bar:
            for name, length in lengths.items():
                for strand in (("+", "-") if both_strands else ("+",)):
                    model.update(_bar_chunks(_record_chunks(genome, name, length, chunk, strand), bar))
        model.training_metadata = {
            "fasta": [str(p) for p in paths],
            "records": len(lengths),
            "bases": int(sum(lengths.values())),
        }
        return model

    # ---- model directory ----
    def save_pretrained(self, path: str | Path, metadata: dict | None = None) -> Path:
        """Write config.json + model.safetensors (counts per order) into `path`, each atomically."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        cfg = {
            "model_type": self.model_type,
            "genomamba_version": __version__,
            "model": self.config.to_dict(),
            "alphabet": {"tokens": TOKENS},
            "training": metadata if metadata is not None else self.training_metadata,
        }
        tensors = {f"counts.{j}": torch.from_numpy(c.copy()) for j, c in enumerate(self.counts)}
        return write_model_directory(path, cfg, tensors)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu") -> MarkovLM:
        """Load a model directory written by `save_pretrained` (or `genomamba-score fit-markov`).

        Raises:
            GenomambaError: a damaged directory, or counts of the wrong shape or negative (names
                the file and the tensor).
            ConfigError: an unknown or invalid "model" key in config.json (names key and file).
        """
        path = Path(path)
        cfg, config = read_typed_config(path, MODEL_TYPE, MarkovConfig)
        tensors = read_weights(path)
        check_tensors(tensors, {f"counts.{j}": (4**j, 4) for j in range(config.k + 1)}, path)
        for name, t in tensors.items():
            if bool((t < 0).any()):
                raise GenomambaError(f"{path / WEIGHTS_NAME}: tensor {name!r} holds negative counts")
        model = cls(config, [tensors[f"counts.{j}"].numpy() for j in range(config.k + 1)])
        model.training_metadata = cfg.get("training", {})
        return model.to(resolve_device(device)).eval()


def _record_chunks(genome, name: str, length: int, chunk: int, strand: str) -> Iterator[np.ndarray]:
    """Tokens of one record in `chunk`-base pieces: forward, or the reverse complement ("-")."""
    if strand == "+":
        for s in range(0, length, chunk):
            yield genome.fetch_tokens(name, s, min(s + chunk, length))
    else:
        for e in range(length, 0, -chunk):
            yield reverse_complement(genome.fetch_tokens(name, max(e - chunk, 0), e))


def _bar_chunks(chunks: Iterator[np.ndarray], bar: Progress) -> Iterator[np.ndarray]:
    """Pass chunks through, advancing the bar as each is consumed (not when the record ends)."""
    for c in chunks:
        yield c
        bar(c.shape[0])
