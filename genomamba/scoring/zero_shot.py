"""Zero-shot variant-effect scoring with a causal DNA language model: one engine, pluggable rules.

For every ALT of every record (SNV, MNV, insertion, deletion, complex; multi-allelic records
per ALT) the engine builds a reference window `[ws, we)` around the REF allele (width `window`,
centred on the allele, clipped at contig edges) and the alt window made from it by replacing REF
with ALT, so

    ref window = P + REF + S        alt window = P + ALT + S      (P, S: identical bases)

and the alt window is `len(ALT) - len(REF)` longer or shorter. Both go through the model in
batches; a track of per-base log-likelihoods `ll[t] = log p(x_t | x_<t)` is taken from each
(`ll[0]`, which has no context, and targets that are N are left out, as in pretraining). Rules
are small functions of (ref track, alt track, `Alignment`) registered in `RULES`:

    GM_LLR    sum(alt ll over ALT + S) - sum(ref ll over REF + S). For a causal model the ll over
              P is identical in both windows and cancels, so this equals log P(alt window) -
              log P(ref window): the log-likelihood ratio of the two haplotypes over the same
              reference span. Length differences need no special case: S is aligned base for
              base (same bases, different context), and the allele contributes its own bases,
              so a deletion loses the terms of the deleted bases and an insertion pays for the
              inserted ones (GPN's site LLR generalised to indels and to downstream effects).
    GM_DELTA  mean(alt ll over the window) - mean(ref ll over the window): Evo 2's rule.

`strands="both"` scores the reverse complement of both windows as well (there the allele is
followed by rc(P)) and averages the two strands, so a variant and its mirror image on the
reverse-complemented genome get the same score (windows are mirror images whenever
`start + end + window` is even; otherwise they differ by one base at the edges).

Scores are natural logs (nats) unless `log_base=2`. A REF that disagrees with the FASTA gets the
FILTER `REF_MISMATCH` and no score; an unknown contig raises `VcfError` (or, with
`unknown_contig="flag"`, gets the FILTER `UNKNOWN_CONTIG`). `check_reference` is the one REF
check (the head scorer reuses its verdict). An allele containing N (REF or ALT) is not scored
(`.`, counted with the skipped ALTs): N bases have no likelihood, so the two windows would be
summed over different bases and the score would be biased by the N alone. Reference windows shared by several
variants (multi-allelic records, duplicates) are scored once (keyed by chrom, window, strand).

With `state_cache=True` (the default, for any model that carries a state) the alt windows are not
run whole: `scoring.state_cache` runs each ref window once, keeps the model state at every allele
and runs each ALT only over its allele and suffix, giving the same tracks and so the same scores
(both strands: on the reverse complement the shared prefix is rc(S)). `state_cache=False` runs
every window whole (`genomamba-score vcf --no-state-cache`), the reference the cache is tested on.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from genomamba.alphabet import encode, is_sequence_allele, pad_rows, reverse_complement
from genomamba.errors import AlphabetError, VcfError
from genomamba.io.fasta import preview_names
from genomamba.io.intervals import place_window
from genomamba.io.vcf import VariantRecord
from genomamba.scoring.likelihood import require_causal
from genomamba.scoring.state_cache import cached_tracks, next_base_ll, supports_state_cache

__all__ = [
    "Alignment", "Track", "Rule", "RULES", "rule_llr", "rule_delta", "place_window",
    "ScoreStats", "VariantScorer", "info_header_lines", "FILTER_LINES", "REF_MISMATCH",
    "UNKNOWN_CONTIG", "DEFAULT_WINDOW", "default_window", "check_reference",
]

DEFAULT_WINDOW = 8192
REF_MISMATCH, UNKNOWN_CONTIG = "REF_MISMATCH", "UNKNOWN_CONTIG"
FILTER_LINES = [
    f'##FILTER=<ID={REF_MISMATCH},Description="REF allele disagrees with the reference FASTA (or runs past the '
    f'contig end); not scored by genomamba">',
    f'##FILTER=<ID={UNKNOWN_CONTIG},Description="Contig not in the reference FASTA; not scored by genomamba">',
]


# --------------------------------------------------------------------------------------------
# Rules: functions of (ref track, alt track, alignment)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alignment:
    """Where the allele sits in a window pair, in the orientation the tracks were scored in.

    Both windows are `prefix` identical bases, the allele (`ref_len` / `alt_len` bases), then
    `suffix` identical bases.
    """

    prefix: int
    ref_len: int
    alt_len: int
    suffix: int

    def reversed(self) -> Alignment:
        """The same alignment on the reverse-complement strand."""
        return Alignment(self.suffix, self.ref_len, self.alt_len, self.prefix)


@dataclass
class Track:
    """Per-base log-likelihoods of one window: ll `[L]` (0 where undefined), valid `[L]` bool."""

    ll: np.ndarray
    valid: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.ll.sum() / max(int(self.valid.sum()), 1))


Rule = Callable[[Track, Track, Alignment], float]


def rule_llr(ref: Track, alt: Track, aln: Alignment) -> float:
    """log P(alt window) - log P(ref window), summed over the allele and everything after it."""
    return float(alt.ll[aln.prefix :].sum() - ref.ll[aln.prefix :].sum())


def rule_delta(ref: Track, alt: Track, aln: Alignment) -> float:
    """Mean ll of the alt window minus mean ll of the ref window (Evo 2)."""
    return alt.mean - ref.mean


# name -> (rule, INFO Description without the unit); a new rule is one function and one entry
RULES: dict[str, tuple[Rule, str]] = {
    "GM_LLR": (rule_llr, "genomamba log-likelihood ratio log P(alt window) - log P(ref window) over the "
               "allele and all downstream bases in the window (upstream bases cancel; indels: the "
               "suffix after the allele is aligned base for base)"),
    "GM_DELTA": (rule_delta, "genomamba mean per-base log-likelihood of the alt window minus that of the "
                 "ref window (Evo 2 rule)"),
}


def info_header_lines(rules: Iterable[str], window: int, strands: str, log_base: str) -> list[str]:
    """`##INFO` lines of the score fields, naming the unit, window and strands."""
    unit = "natural log (nats)" if log_base == "e" else "log2 (bits)"
    strand = "mean of forward and reverse-complement strands" if strands == "both" else "forward strand"
    return [
        f'##INFO=<ID={name},Number=A,Type=Float,Description="{RULES[name][1]}; {unit}; window {window} bp; '
        f'{strand}; higher = alt more likely than ref">'
        for name in rules
    ]


def default_window(model: torch.nn.Module) -> int:
    """The window a model's scores need: a Markov model of order k sees only k bases, so 2(k+1)+1
    covers a SNV's whole effect; other models use the training window recorded in config.json
    (`training.data.window` or `training.window`), else their `context_length`, else 8192."""
    if getattr(model, "model_type", None) == "markov":
        return 2 * (int(model.config.k) + 1) + 1
    meta = getattr(model, "training_metadata", None) or {}
    data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    for w in (meta.get("window"), data.get("window"), getattr(model, "context_length", None)):
        if isinstance(w, int) and w >= 2:
            return w
    return DEFAULT_WINDOW


def check_reference(rec: VariantRecord, genome, lengths: dict[str, int], unknown_contig: str = "flag") -> int | None:
    """The one REF check: the contig length when `rec` can be scored, else None (FILTER added).

    A record already checked (`rec.ref_checked`) is not fetched again; its earlier verdict is kept
    in `rec.filters`.

    Raises:
        VcfError: an unknown contig with `unknown_contig="error"`.
    """
    if rec.ref_checked:
        return None if (REF_MISMATCH in rec.filters or UNKNOWN_CONTIG in rec.filters) else lengths[rec.chrom]
    rec.ref_checked = True
    length = lengths.get(rec.chrom)
    if length is None:
        if unknown_contig == "error":
            raise VcfError(
                f"{rec.where}: contig {rec.chrom!r} is not in the reference FASTA (known: "
                f"{preview_names(lengths)}); use --unknown-contig flag to flag and skip such records"
            )
        rec.filters.append(UNKNOWN_CONTIG)
        return None
    if rec.end > length or genome.fetch(rec.chrom, rec.start, rec.end).upper() != rec.ref.upper():
        rec.filters.append(REF_MISMATCH)
        return None
    return length


# --------------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------------


@dataclass
class ScoreStats:
    records: int = 0
    alleles_scored: int = 0
    alleles_skipped: int = 0  # symbolic / non-DNA ALTs (`<DEL>`, `*`, breakends) and alleles with N
    ref_mismatch: int = 0
    unknown_contig: int = 0
    windows_scored: int = 0  # rows through the model
    model_calls: int = 0
    cache_hits: int = 0

    def summary(self) -> str:
        return (f"{self.records} records: {self.alleles_scored} alleles scored, {self.ref_mismatch} REF "
                f"mismatches, {self.unknown_contig} unknown contigs, {self.alleles_skipped} symbolic ALTs "
                f"skipped; {self.windows_scored} windows through the model ({self.cache_hits} cache hits)")


@dataclass
class _Job:
    rec: VariantRecord
    # per ALT: list of (ref key, alt key, alignment) per strand, or None when not scored
    alleles: list[list[tuple[tuple, tuple, Alignment]] | None] = field(default_factory=list)


class VariantScorer:
    """Scores `VariantRecord`s in a stream, annotating `rec.info` / `rec.filters` in place.

    Args:
        model: causal LM, tokens `[B, L]` -> logits `[B, L, V]` (logits at t predict t+1).
        genome: `FastaReader` or `GenomeSet` (`lengths`, `fetch_tokens`, `fetch`).
        window: reference window width W (default `default_window(model)`).
        strands: "forward" or "both" (average with the reverse-complement strand).
        batch_size: windows per forward call.
        device: where the model runs (default: where its parameters are).
        rules: names in `RULES` (default all).
        log_base: "e" (nats) or "2" (bits).
        unknown_contig: "error" (raise `VcfError`) or "flag" (FILTER `UNKNOWN_CONTIG`).
        chunk_windows: windows gathered before a flush (bounds memory; >= batch_size).
        cache_size: reference tracks kept across chunks (LRU).
        state_cache: score each ALT from the ref window's state at the allele (same scores, less
            work; models without a carried state fall back to whole windows).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        genome,
        window: int | None = None,
        strands: str = "forward",
        batch_size: int = 16,
        device: str | torch.device | None = None,
        rules: Iterable[str] | None = None,
        log_base: str = "e",
        unknown_contig: str = "error",
        chunk_windows: int = 512,
        cache_size: int = 512,
        state_cache: bool = True,
    ) -> None:
        require_causal(model)
        if strands not in ("forward", "both"):
            raise ValueError(f"strands must be 'forward' or 'both', got {strands!r}")
        if unknown_contig not in ("error", "flag"):
            raise ValueError(f"unknown_contig must be 'error' or 'flag', got {unknown_contig!r}")
        if str(log_base) not in ("e", "2"):
            raise ValueError(f"log_base must be 'e' or '2', got {log_base!r}")
        self.model = model
        self.genome = genome
        self.window = default_window(model) if window is None else int(window)
        if self.window < 2:
            raise ValueError(f"window must be >= 2, got {self.window}")
        self.strands = strands
        self.batch_size = max(1, int(batch_size))
        if device is None:
            p = next(iter(model.parameters()), None)
            device = p.device if p is not None else "cpu"
        self.device = torch.device(device)
        self.rules = list(rules) if rules is not None else list(RULES)
        for name in self.rules:
            if name not in RULES:
                raise ValueError(f"unknown scoring rule {name!r}; known: {', '.join(RULES)}")
        self.log_base = str(log_base)
        self._scale = 1.0 if self.log_base == "e" else 1.0 / math.log(2.0)
        self.unknown_contig = unknown_contig
        self.chunk_windows = max(int(chunk_windows), self.batch_size)
        self.cache_size = int(cache_size)
        self.state_cache = bool(state_cache) and supports_state_cache(model)
        self.lengths = genome.lengths
        self.stats = ScoreStats()
        self._ref_cache: OrderedDict[tuple, Track] = OrderedDict()

    def info_header_lines(self) -> list[str]:
        return info_header_lines(self.rules, self.window, self.strands, self.log_base)

    # -- streaming ----------------------------------------------------------------------------
    def score(self, records: Iterable[VariantRecord]) -> Iterator[VariantRecord]:
        """Yield every record, in input order, with scores in `rec.info` (Number=A strings)."""
        pending: list[_Job] = []
        tokens: dict[tuple, np.ndarray] = {}  # windows still to score in this chunk
        pinned: dict[tuple, Track] = {}  # cached ref tracks this chunk uses (safe from eviction)
        parents: dict[tuple, tuple[tuple, int]] = {}  # alt key -> (ref key, shared prefix length)
        for rec in records:
            pending.append(self._prepare(rec, tokens, pinned, parents))
            # the record bound keeps memory flat when few records need windows (e.g. all mismatches)
            if len(tokens) >= self.chunk_windows or len(pending) >= 4 * self.chunk_windows:
                yield from self._flush(pending, tokens, pinned, parents)
                pending, tokens, pinned, parents = [], {}, {}, {}
        yield from self._flush(pending, tokens, pinned, parents)

    def _prepare(
        self, rec: VariantRecord, tokens: dict[tuple, np.ndarray], pinned: dict[tuple, Track],
        parents: dict[tuple, tuple[tuple, int]],
    ) -> _Job:
        self.stats.records += 1
        job = _Job(rec)
        length = check_reference(rec, self.genome, self.lengths, self.unknown_contig)
        if length is None:
            if UNKNOWN_CONTIG in rec.filters:
                self.stats.unknown_contig += 1
            else:
                self.stats.ref_mismatch += 1
            return job
        ws, we = place_window(rec.start, rec.end, length, self.window)
        ref_key = (rec.chrom, ws, we)
        ref_tokens = tokens.get(("ref", *ref_key, "+"))
        aln = Alignment(rec.start - ws, len(rec.ref), 0, we - rec.end)
        for alt in rec.alts:
            if not is_sequence_allele(alt) or "N" in alt.upper() or "N" in rec.ref.upper():
                self.stats.alleles_skipped += 1
                job.alleles.append(None)
                continue
            try:
                alt_tok = encode(alt, source=rec.source, record=rec.chrom)
            except AlphabetError as e:
                raise VcfError(f"{rec.where}: {e}") from None
            a = Alignment(aln.prefix, aln.ref_len, len(alt), aln.suffix)
            per_strand = []
            for strand in ("+", "-") if self.strands == "both" else ("+",):
                rk = ("ref", *ref_key, strand)
                ak = ("alt", *ref_key, rec.start, rec.ref.upper(), alt.upper(), strand)
                if rk in tokens or rk in pinned:
                    self.stats.cache_hits += 1
                elif rk in self._ref_cache:
                    pinned[rk] = self._ref_cache[rk]
                    self._ref_cache.move_to_end(rk)
                    self.stats.cache_hits += 1
                else:
                    if ref_tokens is None:
                        ref_tokens = self.genome.fetch_tokens(rec.chrom, ws, we)
                    tokens[rk] = ref_tokens if strand == "+" else reverse_complement(ref_tokens)
                sa = a if strand == "+" else a.reversed()
                if ak not in tokens:
                    if ref_tokens is None:
                        ref_tokens = self.genome.fetch_tokens(rec.chrom, ws, we)
                    alt_win = np.concatenate([ref_tokens[: a.prefix], alt_tok, ref_tokens[len(ref_tokens) - a.suffix :]])
                    tokens[ak] = alt_win if strand == "+" else reverse_complement(alt_win)
                    parents[ak] = (rk, sa.prefix)
                    if self.state_cache and rk not in tokens:  # a track from the LRU has no state: rerun it
                        tokens[rk] = ref_tokens if strand == "+" else reverse_complement(ref_tokens)
                per_strand.append((rk, ak, sa))
            job.alleles.append(per_strand)
        return job

    def _flush(
        self, jobs: list[_Job], tokens: dict[tuple, np.ndarray], pinned: dict[tuple, Track],
        parents: dict[tuple, tuple[tuple, int]],
    ) -> Iterator[VariantRecord]:
        tracks = {**pinned, **self._tracks(tokens, parents)}
        for job in jobs:
            if job.alleles and any(a is not None for a in job.alleles):
                values: dict[str, list[str]] = {name: [] for name in self.rules}
                for allele in job.alleles:
                    if allele is None:
                        for name in self.rules:
                            values[name].append(".")
                        continue
                    self.stats.alleles_scored += 1
                    for name in self.rules:
                        rule = RULES[name][0]
                        s = [rule(tracks[rk], tracks[ak], aln) for rk, ak, aln in allele]
                        values[name].append(_fmt(sum(s) / len(s) * self._scale))
                for name in self.rules:
                    job.rec.info[name] = ",".join(values[name])
            yield job.rec

    # -- model --------------------------------------------------------------------------------
    def _tracks(self, tokens: dict[tuple, np.ndarray], parents: dict[tuple, tuple[tuple, int]]) -> dict[tuple, Track]:
        """Score every window in `tokens` (whole, sorted by length into batches, or alts from the
        ref state with `state_cache`); cache ref tracks."""
        out: dict[tuple, Track] = {}
        if self.state_cache:
            refs = {k: t for k, t in tokens.items() if k[0] == "ref"}
            alts = {k: (*parents[k], t) for k, t in tokens.items() if k[0] == "alt"}
            for k, (ll, valid) in cached_tracks(self.model, refs, alts, self.batch_size, self.device, self.stats).items():
                out[k] = Track(ll, valid)
        else:
            keys = sorted(tokens, key=lambda k: len(tokens[k]))
            for i in range(0, len(keys), self.batch_size):
                batch = keys[i : i + self.batch_size]
                for k, t in zip(batch, self.ll_tracks([tokens[k] for k in batch])):
                    out[k] = t
        for k, t in out.items():
            if k[0] == "ref" and self.cache_size > 0:
                self._ref_cache[k] = t
                self._ref_cache.move_to_end(k)
                while len(self._ref_cache) > self.cache_size:
                    self._ref_cache.popitem(last=False)
        return out

    @torch.inference_mode()
    def ll_tracks(self, windows: list[np.ndarray]) -> list[Track]:
        """One forward call: windows (token arrays `[L_i]`) -> their `Track`s.

        Windows are right-padded with PAD (a causal model never looks right, so padding changes
        nothing before it). `ll[t] = log_softmax(logits[t-1])[x_t]`; `ll[0]` and N targets are 0
        and invalid.
        """
        if not windows:
            return []
        xt = torch.from_numpy(pad_rows(windows)).to(self.device)
        logits = self.model(xt)  # [B, L, V]
        self.stats.model_calls += 1
        self.stats.windows_scored += len(windows)
        ll, valid = next_base_ll(logits[:, :-1], xt[:, 1:])  # [B, L-1]
        ll = torch.cat([torch.zeros_like(ll[:, :1]), ll], dim=1).cpu().numpy()
        valid = torch.cat([torch.zeros_like(valid[:, :1]), valid], dim=1).cpu().numpy()
        return [Track(ll[i, : len(w)], valid[i, : len(w)]) for i, w in enumerate(windows)]


def _fmt(v: float) -> str:
    return "." if not math.isfinite(v) else f"{v:.6g}"

