"""Variant-effect probabilities from a trained head directory (`VariantEffectModel`), streaming.

`HeadScorer.score(records)` annotates each `VariantRecord` in place with numeric INFO fields
(Number=A, Type=Float, so bcftools expressions and `evaluate --scores` read them): `GM_HEAD` is
the probability of the positive (last) class per ALT; a multi-class head also writes one field
per class, `GM_HEAD_<class>`. The REF check is `scoring.variants.check_reference`, shared with
zero-shot scoring: a record the variant scorer already checked is not fetched again. A REF that
disagrees with the FASTA or an unknown contig gets `REF_MISMATCH` / `UNKNOWN_CONTIG` and no
value; symbolic ALTs get `.`. Records are buffered `chunk` at a time, so
memory does not grow with the input. No Lightning here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from genomamba.alphabet import encode, is_sequence_allele
from genomamba.data.variant_inputs import build_inputs, collate_inputs
from genomamba.device import resolve_device
from genomamba.io.fasta import FastaReader, GenomeSet
from genomamba.io.intervals import place_window
from genomamba.io.vcf import VariantRecord, info_key, read_variants
from genomamba.models.variant_effect import VariantEffectModel
from genomamba.scoring.zero_shot import check_reference

__all__ = ["HeadScorer", "score_with_head", "INFO_KEY"]

INFO_KEY = "GM_HEAD"


class HeadScorer:
    """Class probabilities of variants from a head.

    Args:
        head: a head directory or a loaded `VariantEffectModel`.
        genome: `FastaReader`/`GenomeSet`, or a FASTA path.
        batch_size: variants per forward call. device: default cuda if available, else cpu.
        chunk: records buffered before a flush. info_key: INFO field name.
    """

    def __init__(
        self,
        head: str | Path | VariantEffectModel,
        genome: str | Path | FastaReader | GenomeSet,
        batch_size: int = 32,
        device: str | torch.device | None = None,
        chunk: int = 1024,
        info_key: str = INFO_KEY,
    ) -> None:
        device = resolve_device(device)
        self.model = head if isinstance(head, VariantEffectModel) else VariantEffectModel.from_pretrained(head, device=device)
        self.model.to(device).eval()
        self.device = device
        self.genome = FastaReader(genome) if isinstance(genome, (str, Path)) else genome
        self.lengths = self.genome.lengths
        self.batch_size, self.chunk, self.info_key = max(1, int(batch_size)), max(1, int(chunk)), info_key
        self.window = self.model.config.window
        self.num_classes = self.model.config.num_classes
        self.scored = 0

    def class_keys(self) -> list[str]:
        """INFO keys of the per-class fields of a multi-class head ([] for a binary head)."""
        cfg = self.model.config
        if cfg.num_classes == 2:
            return []
        names = cfg.class_names or [str(i) for i in range(cfg.num_classes)]
        return [f"{self.info_key}_{info_key(n)}" for n in names]

    def info_keys(self) -> list[str]:
        return [self.info_key, *self.class_keys()]

    def info_header_lines(self) -> list[str]:
        cfg = self.model.config
        names = cfg.class_names or [str(i) for i in range(cfg.num_classes)]
        src = f"window {cfg.window} bp; strands {cfg.strands}"
        rest = f"vs {names[0]!r}" if cfg.num_classes == 2 else f"vs the other classes {', '.join(map(repr, names[:-1]))}"
        lines = [f'##INFO=<ID={self.info_key},Number=A,Type=Float,Description="genomamba variant-effect head: '
                 f'probability of class {names[-1]!r} ({rest}); {src}">']
        for key, name in zip(self.class_keys(), names):
            lines.append(f'##INFO=<ID={key},Number=A,Type=Float,Description="genomamba variant-effect head: '
                         f'probability of class {name!r}; {src}">')
        return lines

    def _inputs(self, rec: VariantRecord) -> list[dict | None]:
        """`build_inputs` per ALT (None: not scored); the REF check is `check_reference`'s."""
        length = check_reference(rec, self.genome, self.lengths, "flag")
        if length is None:
            return [None] * len(rec.alts)
        ws, we = place_window(rec.start, rec.end, length, self.window)
        tokens = self.genome.fetch_tokens(rec.chrom, ws, we)
        out = []
        for alt in rec.alts:
            if not is_sequence_allele(alt):
                out.append(None)
                continue
            out.append(build_inputs(tokens, rec.start - ws, len(rec.ref), encode(alt, source=rec.source, record=rec.chrom)))
        return out

    def predict(self, items: list[dict]) -> np.ndarray:
        """`build_inputs` dicts -> probabilities `[n, num_classes]` (float64)."""
        out = []
        for i in range(0, len(items), self.batch_size):
            out.append(self.model.predict_proba(collate_inputs(items[i : i + self.batch_size])).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.num_classes))

    def probabilities(self, records: Iterable[VariantRecord]) -> Iterator[tuple[VariantRecord, np.ndarray]]:
        """Yield (record, probabilities `[n_alts, num_classes]`, NaN rows for unscored ALTs), in order."""
        buf: list[tuple[VariantRecord, list[dict | None]]] = []
        for rec in records:
            buf.append((rec, self._inputs(rec)))
            if sum(len(x) for _, x in buf) >= self.chunk:
                yield from self._flush(buf)
                buf = []
        yield from self._flush(buf)

    def _flush(self, buf):
        items = [it for _, xs in buf for it in xs if it is not None]
        probs = self.predict(items)
        self.scored += len(items)
        j = 0
        for rec, xs in buf:
            p = np.full((len(xs), self.num_classes), np.nan)
            for a, it in enumerate(xs):
                if it is not None:
                    p[a] = probs[j]
                    j += 1
            yield rec, p

    def score(self, records: Iterable[VariantRecord]) -> Iterator[VariantRecord]:
        """Yield every record, in input order, with the `info_keys()` fields set when any ALT was scored."""
        class_keys = self.class_keys()
        for rec, p in self.probabilities(records):
            if len(p) and not np.isnan(p).all():
                rec.info[self.info_key] = ",".join(_fmt(row[-1]) for row in p)
                for c, key in enumerate(class_keys):
                    rec.info[key] = ",".join(_fmt(row[c]) for row in p)
            yield rec


def _fmt(v: float) -> str:
    return "." if np.isnan(v) else f"{v:.6g}"


def score_with_head(
    head_dir: str | Path,
    fasta: str | Path | FastaReader | GenomeSet,
    variants: str | Path | Iterable[VariantRecord],
    *,
    batch_size: int = 32,
    device: str | torch.device | None = None,
) -> list[np.ndarray]:
    """Class probabilities of every record's ALTs under the head at `head_dir`.

    Args:
        head_dir: head directory (`VariantEffectModel.save_pretrained`).
        fasta: reference FASTA path or an open reader.
        variants: a VCF/TSV path or `VariantRecord`s (their `filters` are updated in place).

    Returns:
        One float64 array `[n_alts, num_classes]` per record, in input order; rows of NaN for
        ALTs not scored (REF mismatch, unknown contig, symbolic ALT). For a binary head, column 1
        is the probability of the positive class.
    """
    scorer = HeadScorer(head_dir, fasta, batch_size=batch_size, device=device)
    records = read_variants(variants)[1] if isinstance(variants, (str, Path)) else variants
    return [p for _, p in scorer.probabilities(records)]

