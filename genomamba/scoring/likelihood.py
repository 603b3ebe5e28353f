"""Streaming per-position log-likelihoods (and hidden states) of FASTA records; no Lightning.

A causal LM (`CharMambaLM`, `MarkovLM`: anything with `forward(tokens, state, return_state)`)
reads a record `chunk` bases at a time, carrying its state, so memory is constant in the record's
length and the result equals one pass over the whole record (up to float rounding).

Conventions (coordinates 0-based, end-exclusive):
- `ll[p]` is the natural log of P(base p | bases start..p-1), normalised over the model's whole
  vocabulary (log-softmax of the logits at p-1).
- The first base of a scored interval has no context and the model makes no prediction for it:
  its `ll` is NaN and it is not counted as scored. The model never sees bases before `start`.
- A base that is N (or any non-ACGT token) is not scored (NaN); it still feeds the context.
- `both_strands`: the reverse complement is scored as its own stream (its first base is the
  record's last), mapped back to forward coordinates and averaged with the forward track; where
  only one strand has a score (the two ends) that one is used. For a record longer than `chunk`
  the reverse-strand track goes through a float32 memory-mapped scratch file (4 bytes per base on
  disk, nothing in RAM), because the two streams run in opposite directions.
- Hidden states (for embeddings) come from the forward strand only.

Records no longer than `chunk` are batched together for throughput. Packed (continuous batching,
`pack=True`, for models with `packed_scoring`): consecutive short records (and their reverse
complements) are laid end to end in rows of at most `chunk` bases, with `seq_idx` restarting the
model's state at every record, so no position is padding but a row's tail; each record's scores are
those it gets alone. Padded (`pack=False`): one record per row, right-padded with PAD (a causal
model's outputs at real positions do not depend on the padding).
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genomamba.alphabet import PAD, pad_rows, reverse_complement
from genomamba.data.packing import pack_rows
from genomamba.errors import FastaFetchError, GenomambaError
from genomamba.io.fasta import FastaReader, GenomeSet
from genomamba.io.intervals import tile

# bases per model call. Peak memory grows with the chunk (d_model 64, 4 layers on a CPU: ~130 MiB
# above the model at 8 kb vs ~800 MiB at 64 kb, benchmarks/RESULTS_score_fasta.md) and a CPU gains
# little from longer calls; a GPU wants long calls to fill its cores.
DEFAULT_CHUNK = 1 << 13
DEFAULT_CHUNK_CUDA = 1 << 16

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_CHUNK_CUDA",
    "ScoredChunk",
    "Summary",
    "score_sequence",
    "score_records",
    "batch_groups",
    "summarize",
]


@dataclass
class ScoredChunk:
    """Scores of `name[start : start + len(tokens))`, one piece of the interval being scored.

    Attributes:
        name: record name.
        start: 0-based position of `tokens[0]` in the record.
        tokens: uint8 `[n]`.
        ll: float32 `[n]`, natural-log likelihood per base; NaN where not scored.
        hidden: float32 `[n, D]` final hidden states (forward strand), or None when not asked.
        interval_start, interval_end: the whole interval being scored, of which this is a piece.
    """

    name: str
    start: int
    tokens: np.ndarray
    ll: np.ndarray
    hidden: np.ndarray | None
    interval_start: int
    interval_end: int

    @property
    def end(self) -> int:
        return self.start + self.tokens.shape[0]

    @property
    def last(self) -> bool:
        """True on the interval's final piece."""
        return self.end == self.interval_end


def _model_device(model: torch.nn.Module) -> torch.device:
    for t in itertools.chain(model.parameters(), model.buffers()):
        return t.device
    return torch.device("cpu")


@torch.inference_mode()
def _step(
    model: torch.nn.Module,
    tokens: np.ndarray,
    state,
    prev_logp: torch.Tensor | None,
    device: torch.device,
    want_hidden: bool,
    seq_idx: np.ndarray | None = None,
):
    """One chunk through the model: tokens `[B, n]` -> ll `[B, n]`, hidden, state, last log-probs `[B, V]`.
    seq_idx `[B, n]`: packed records (the model must take it); ll at a record's first base is then
    the previous record's prediction, which the caller drops."""
    x = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.int64)).to(device)
    packed = {} if seq_idx is None else {"seq_idx": torch.from_numpy(seq_idx).to(device)}
    hidden = None
    if want_hidden:
        h, new_state = model.hidden_states(x, state, **packed)
        logits = model.lm_head(h)
        hidden = h.float().cpu().numpy()
    else:
        logits, new_state = model(x, state, return_state=True, **packed)
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, n, V)
    ll = torch.empty(x.shape, dtype=torch.float32, device=device)
    ll[:, 1:] = logp[:, :-1].gather(-1, x[:, 1:, None]).squeeze(-1)
    if prev_logp is None:
        ll[:, 0] = math.nan
    else:
        ll[:, 0] = prev_logp.gather(-1, x[:, :1]).squeeze(-1)
    ll[x >= 4] = math.nan  # N (or padding) observed: not scored
    return ll.cpu().numpy(), hidden, new_state, logp[:, -1]


def _record_length(reader: FastaReader | GenomeSet, lengths: dict[str, int], name: str) -> int:
    if name not in lengths:
        reader.fetch_tokens(name, 0, 0)  # raises FastaFetchError naming the file(s) and record
    return lengths[name]


def _mean_strands(fwd: np.ndarray, rev: np.ndarray) -> np.ndarray:
    """Per-position mean of two tracks; where one is NaN the other is used."""
    out = np.where(np.isnan(fwd), rev, fwd)
    both = ~(np.isnan(fwd) | np.isnan(rev))
    out[both] = 0.5 * (fwd[both] + rev[both])
    return out


def require_causal(model: torch.nn.Module) -> None:
    """Likelihood scores need logits at t to depend only on bases <= t: refuse other models."""
    if not getattr(model, "is_causal", True):
        raise GenomambaError(
            "this model is bidirectional (a masked-LM encoder): its outputs are not next-base "
            "probabilities, so it cannot score likelihoods; use it for features (variant-effect heads)"
        )


def score_sequence(
    model: torch.nn.Module,
    reader: FastaReader | GenomeSet,
    name: str,
    start: int = 0,
    end: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    device: str | torch.device | None = None,
    both_strands: bool = False,
    hidden: bool = False,
    progress: Callable[[int], None] | None = None,
    scratch_dir: str | Path | None = None,
) -> Iterator[ScoredChunk]:
    """Stream the per-base log-likelihood of `name[start:end]`, `chunk` bases at a time.

    Memory is O(chunk), whatever the length; pieces come out in order as soon as they are scored.

    Args:
        model: a causal LM with `forward(tokens [B, L], state, return_state=True)` -> (logits
            `[B, L, V]`, state), e.g. `CharMambaLM` or `MarkovLM`, already on its device.
        reader: `FastaReader` or `GenomeSet` (anything with `lengths` and `fetch_tokens`).
        name: record name.
        start, end: 0-based, end-exclusive interval (default: the whole record).
        chunk: bases per model call.
        device: where token chunks go; default the model's device.
        both_strands: average with the reverse-complement stream (see the module docstring).
        hidden: also return the final hidden states (needs `model.hidden_states` and `lm_head`).
        progress: called with the number of bases just processed (both passes count).
        scratch_dir: where the reverse-strand scratch file goes (default: the system temp dir).

    Yields:
        `ScoredChunk` pieces covering `[start, end)` in order, each at most `chunk` long.

    Raises:
        FastaFetchError: unknown record or interval out of bounds. ValueError: chunk < 1.
    """
    require_causal(model)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    length = _record_length(reader, reader.lengths, name)
    end = length if end is None else end
    if not 0 <= start <= end <= length:
        raise FastaFetchError(f"record {name!r}: [{start}, {end}) is outside [0, {length}) (0-based, end-exclusive)")
    device = torch.device(device) if device is not None else _model_device(model)
    n = end - start
    if n <= 0:
        return
    rev: np.ndarray | None = None
    scratch = None
    try:
        if both_strands:
            if n <= chunk:
                rev = np.empty(n, np.float32)
            else:
                scratch = tempfile.NamedTemporaryFile(dir=scratch_dir, prefix="genomamba-rc-", suffix=".f32")
                rev = np.memmap(scratch.name, dtype=np.float32, mode="w+", shape=(n,))
            state, prev = model.allocate_state(1, device), None
            for q in range(0, n, chunk):  # reverse strand, rc coordinate q <-> forward end - 1 - q
                fs, fe = end - min(q + chunk, n), end - q
                toks = reverse_complement(reader.fetch_tokens(name, fs, fe))
                ll, _, state, prev = _step(model, toks[None], state, prev, device, False)
                rev[fs - start : fe - start] = ll[0, ::-1]
                if progress is not None:
                    progress(fe - fs)
        state, prev = model.allocate_state(1, device), None
        for s in range(start, end, chunk):
            e = min(s + chunk, end)
            toks = reader.fetch_tokens(name, s, e)
            ll, h, state, prev = _step(model, toks[None], state, prev, device, hidden)
            ll = ll[0]
            if rev is not None:
                ll = _mean_strands(ll, np.asarray(rev[s - start : e - start]))
            if progress is not None:
                progress(e - s)
            yield ScoredChunk(name, s, toks, ll, h[0] if h is not None else None, start, end)
    finally:
        if isinstance(rev, np.memmap):
            del rev
        if scratch is not None:
            scratch.close()


def _score_batch(
    model: torch.nn.Module,
    reader: FastaReader | GenomeSet,
    names: Sequence[str],
    device: torch.device,
    both_strands: bool,
    hidden: bool,
    progress: Callable[[int], None] | None,
) -> Iterator[ScoredChunk]:
    """Whole short records in one padded batch (plus their reverse complements if asked)."""
    toks = [reader.fetch_tokens(n, 0, reader.lengths[n]) for n in names]
    rows = toks + ([reverse_complement(t) for t in toks] if both_strands else [])
    ll, h, _, _ = _step(model, pad_rows(rows), None, None, device, hidden)
    for i, (name, t) in enumerate(zip(names, toks)):
        n = t.shape[0]
        track = ll[i, :n]
        if both_strands:
            track = _mean_strands(track, ll[len(toks) + i, :n][::-1])
        if progress is not None:
            progress(n * (2 if both_strands else 1))
        yield ScoredChunk(name, 0, t, track, h[i, :n] if h is not None else None, 0, n)


def _score_packed(
    model: torch.nn.Module,
    reader: FastaReader | GenomeSet,
    names: Sequence[str],
    width: int,
    device: torch.device,
    both_strands: bool,
    hidden: bool,
    progress: Callable[[int], None] | None,
) -> Iterator[ScoredChunk]:
    """Whole short records packed end to end in rows of at most `width` bases (each record followed by
    its reverse complement if asked), `seq_idx` restarting the model at every record."""
    toks = [reader.fetch_tokens(n, 0, reader.lengths[n]) for n in names]
    segments = [s for t in toks for s in ((t, reverse_complement(t)) if both_strands else (t,))]
    places = pack_rows([s.shape[0] for s in segments], width)
    rows = places[-1][0] + 1
    used = max(off + s.shape[0] for s, (_, off) in zip(segments, places))
    batch = np.full((rows, used), PAD, np.int64)
    seq_idx = np.full((rows, used), -1, np.int32)  # a row's padded tail is a sequence of its own
    for i, (s, (r, off)) in enumerate(zip(segments, places)):
        batch[r, off:off + s.shape[0]] = s
        seq_idx[r, off:off + s.shape[0]] = i
    ll, h, _, _ = _step(model, batch, None, None, device, hidden, seq_idx)
    per = 2 if both_strands else 1
    for k, (name, t) in enumerate(zip(names, toks)):
        n = t.shape[0]
        r, off = places[per * k]
        track = ll[r, off:off + n].copy()
        track[:1] = math.nan  # a record's first base has no context
        if both_strands:
            rr, roff = places[per * k + 1]
            rev = ll[rr, roff:roff + n][::-1].copy()
            rev[n - 1:] = math.nan
            track = _mean_strands(track, rev)
        if progress is not None:
            progress(n * per)
        yield ScoredChunk(name, 0, t, track, h[r, off:off + n] if h is not None else None, 0, n)


def score_records(
    model: torch.nn.Module,
    reader: FastaReader | GenomeSet,
    names: Iterable[str] | None = None,
    batch_size: int = 8,
    chunk: int = DEFAULT_CHUNK,
    device: str | torch.device | None = None,
    both_strands: bool = False,
    hidden: bool = False,
    progress: Callable[[int], None] | None = None,
    scratch_dir: str | Path | None = None,
    pack: bool = False,
) -> Iterator[ScoredChunk]:
    """Score whole records in the given order; records of at most `chunk` bases go in batches.

    Consecutive short records (length <= chunk) are scored together: packed end to end into at
    most `batch_size` rows of `chunk` bases (`pack=True`), or `batch_size` records per padded batch;
    a longer record is streamed alone with `score_sequence`. Pieces come out in record order, each
    record's pieces consecutive, so a writer can stream them. Both layouts give each record the
    scores it gets alone (up to float rounding).

    Args:
        names: records to score (default: all, in file order).
        batch_size: most rows (packed) or short records (padded) per model call.
        pack: continuous batching (see the module docstring); needs a model with `packed_scoring`.
        The others: as in `score_sequence`.

    Yields:
        `ScoredChunk` pieces; each record's `interval_start, interval_end` is `0, length`.

    Raises:
        GenomambaError: pack=True with a model that cannot take packed rows (`seq_idx`).
    """
    require_causal(model)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if pack and not getattr(model, "packed_scoring", False):
        raise GenomambaError(f"{type(model).__name__} cannot score packed rows (no seq_idx); use pack=False")
    device = torch.device(device) if device is not None else _model_device(model)
    strands = 2 if both_strands else 1
    for kind, group in batch_groups(reader, reader.names if names is None else names, chunk, batch_size,
                                    pack=pack, strands=strands):
        if kind == "pack":
            yield from _score_packed(model, reader, group, chunk, device, both_strands, hidden, progress)
        elif kind == "batch":
            yield from _score_batch(model, reader, group, device, both_strands, hidden, progress)
        else:
            yield from score_sequence(
                model, reader, group[0], 0, reader.lengths[group[0]], chunk, device, both_strands, hidden,
                progress, scratch_dir,
            )


def batch_groups(
    reader: FastaReader | GenomeSet, names: Iterable[str], chunk: int, batch_size: int, pack: bool = False,
    strands: int = 1,
) -> Iterator[tuple[str, list[str]]]:
    """How `score_records` groups records into model calls: ("batch", up to `batch_size`
    consecutive records of at most `chunk` bases), with `pack` ("pack", consecutive such records
    whose `strands` segments fill at most `batch_size` rows of `chunk`, laid out by
    `genomamba.data.packing.pack_rows`), or ("stream", [one longer record]).

    Scoring the records of a group suffix gives the same groups, so a resumed run that starts at
    a group boundary makes the same model calls (and the same numbers) as an uninterrupted one.
    """
    if pack:
        yield from _pack_groups(reader, names, chunk, batch_size, strands)
        return
    lengths = reader.lengths
    pending: list[str] = []
    for name in names:
        if _record_length(reader, lengths, name) <= chunk:
            pending.append(name)
            if len(pending) == batch_size:
                yield "batch", pending
                pending = []
            continue
        if pending:
            yield "batch", pending
            pending = []
        yield "stream", [name]
    if pending:
        yield "batch", pending


def _pack_groups(reader, names, chunk, batch_size, strands) -> Iterator[tuple[str, list[str]]]:
    """`batch_groups` with pack: the greedy row filling of `pack_rows`, kept incrementally."""
    lengths = reader.lengths
    pending: list[str] = []
    row, used = 0, 0  # the pending group's last row and its fill

    def place(n, row, used):
        for _ in range(strands):
            if used and used + n > chunk:
                row, used = row + 1, 0
            used += n
        return row, used

    for name in names:
        n = _record_length(reader, lengths, name)
        if n > chunk:
            if pending:
                yield "pack", pending
                pending, row, used = [], 0, 0
            yield "stream", [name]
            continue
        r, u = place(n, row, used)
        if r >= batch_size and pending:
            yield "pack", pending
            pending, (r, u) = [], place(n, 0, 0)
        pending.append(name)
        row, used = r, u
    if pending:
        yield "pack", pending


# --------------------------------------------------------------------------------------------
# Per-record / per-window summaries
# --------------------------------------------------------------------------------------------


@dataclass
class Summary:
    """Totals over `name[start:end]`.

    Attributes:
        ll_sum: sum of the natural-log likelihood of the scored bases.
        scored: number of scored bases. n_count: number of N (non-ACGT) bases.
        embedding: float32 `[D]` mean hidden state over the interval, or None.
    """

    name: str
    start: int
    end: int
    ll_sum: float
    scored: int
    n_count: int
    embedding: np.ndarray | None = None

    @property
    def bits_per_base(self) -> float:
        """-ll_sum / ln 2 / scored (NaN when no base was scored)."""
        return -self.ll_sum / math.log(2) / self.scored if self.scored else math.nan


class _Accumulator:
    """Window totals of one interval from prefix sums: O(open windows) memory, not O(length)."""

    def __init__(self, first: ScoredChunk, window: int | None, stride: int | None):
        self.name = first.name
        span = (first.name, first.interval_start, first.interval_end)
        self.windows = tile(span, window, stride or window) if window else iter([span[1:]])
        self.next = next(self.windows, None)
        self.open: deque[tuple[int, int, np.ndarray]] = deque()
        self.total: np.ndarray | None = None

    def add(self, c: ScoredChunk) -> Iterator[Summary]:
        n = c.tokens.shape[0]
        cols = [np.nan_to_num(c.ll, nan=0.0), ~np.isnan(c.ll), c.tokens >= 4]
        feats = np.column_stack(cols).astype(np.float64)
        if c.hidden is not None:
            feats = np.concatenate([feats, c.hidden.astype(np.float64)], axis=1)
        if self.total is None:
            self.total = np.zeros(feats.shape[1])
        prefix = np.empty((n + 1, feats.shape[1]))  # prefix[i] = totals over [interval_start, c.start + i)
        prefix[0] = self.total
        np.cumsum(feats, axis=0, out=prefix[1:])
        prefix[1:] += self.total
        while self.next is not None and self.next[0] <= c.end:
            s, e = self.next
            self.open.append((s, e, prefix[s - c.start].copy()))
            self.next = next(self.windows, None)
        while self.open and self.open[0][1] <= c.end:
            s, e, before = self.open.popleft()
            tot = prefix[e - c.start] - before
            emb = (tot[3:] / (e - s)).astype(np.float32) if c.hidden is not None else None
            yield Summary(self.name, s, e, float(tot[0]), int(round(tot[1])), int(round(tot[2])), emb)
        self.total = prefix[n]


def summarize(
    chunks: Iterable[ScoredChunk], window: int | None = None, stride: int | None = None
) -> Iterator[Summary]:
    """Fold a stream of scored pieces into one `Summary` per interval, or per window of it.

    Args:
        chunks: pieces as `score_sequence`/`score_records` yield them (each interval's pieces
            consecutive and in order).
        window: window length; None for one summary per interval.
        stride: step between window starts (default `window`); windows are cut with
            `genomamba.io.intervals.tile` (the last one clipped to the interval's end).

    Yields:
        `Summary` rows in order, each as soon as its window's last piece has been seen.
    """
    acc: _Accumulator | None = None
    for c in chunks:
        if acc is None:
            acc = _Accumulator(c, window, stride)
        yield from acc.add(c)
        if c.last:
            acc = None
