"""Labelled variants for variant-effect heads: reading, label mapping, class weights, dataset
(the LightningDataModule over them is `genomamba.data.datamodule.VariantDataModule`).

Input: a VCF whose label is an INFO key, or a TSV whose label is a column (read with
`genomamba.io.vcf.read_variants`, which owns the POS conversion), and a reference FASTA.
Labels are mapped to classes by `label_mapping`: binary (`positive` values -> 1, `negative`
values, or every other value, -> 0) or multi-class (`classes`, index = class id). Records with
no label, a label outside the mapping, several ALTs or a symbolic ALT are skipped and counted.
A REF that disagrees with the FASTA raises `RefAlleleMismatch` (or is skipped and counted with
`on_ref_mismatch="skip"`), never trains silently.

Windows are fetched on demand (`VariantDataset.__getitem__`) through a lazily opened `GenomeSet`,
so memory does not grow with the genome. Folds come from `genomamba.data.splits` (whole position
blocks); class weights are computed from the training split only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from genomamba.alphabet import is_sequence_allele
from genomamba.data.variant_inputs import variant_inputs
from genomamba.errors import ConfigError, GenomambaError, RefAlleleMismatch
from genomamba.io.fasta import GenomeSet
from genomamba.io.vcf import parse_info, read_variants

__all__ = [
    "LabelledVariant", "ReadStats", "label_mapping", "read_labelled_variants", "class_weights", "VariantDataset",
]

log = logging.getLogger(__name__)


@dataclass
class LabelledVariant:
    """One biallelic variant: 0-based `start`, REF/ALT as written, class id `label`, raw `value`."""

    chrom: str
    start: int
    ref: str
    alt: str
    label: int
    value: str
    source: str = "<variants>"
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class ReadStats:
    records: int = 0
    kept: int = 0
    no_label: int = 0
    unmapped_label: int = 0
    multiallelic: int = 0
    symbolic: int = 0
    ref_mismatch: int = 0
    per_class: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (f"{self.records} records: {self.kept} kept {self.per_class}; skipped {self.no_label} without "
                f"label, {self.unmapped_label} outside the label mapping, {self.multiallelic} multi-allelic, "
                f"{self.symbolic} symbolic ALT, {self.ref_mismatch} REF mismatches")


def label_mapping(
    positive: Sequence | None = None, negative: Sequence | None = None, classes: Sequence | None = None
) -> tuple[dict[str, int], list[str], int]:
    """Label value -> class id.

    Args:
        positive: binary: values of class 1 (e.g. `["nonsense", "missense"]` or `["1"]`).
        negative: binary: values of class 0; None: every other value is class 0.
        classes: multi-class: values, index = class id (a value may be `a|b` to merge two).

    Returns:
        (mapping, class names, number of classes); without `negative` the mapping has the
        key `"*"` -> 0: every value not in `positive` is class 0.

    Raises:
        ConfigError: both or neither of `positive` and `classes`, or a value in two classes.
    """
    if (positive is None) == (classes is None):
        raise ConfigError("labels: give either positive (and optionally negative) values, or classes")
    if classes is not None:
        mapping: dict[str, int] = {}
        for i, c in enumerate(classes):
            for v in str(c).split("|"):
                if v in mapping:
                    raise ConfigError(f"labels: value {v!r} is in two classes")
                mapping[v] = i
        if len(classes) < 2:
            raise ConfigError(f"labels: need at least 2 classes, got {list(classes)}")
        return mapping, [str(c) for c in classes], len(classes)
    pos = [str(v) for v in positive]
    if negative is None:
        return {**{v: 1 for v in pos}, "*": 0}, ["other", "|".join(pos)], 2
    neg = [str(v) for v in negative]
    both = set(pos) & set(neg)
    if both:
        raise ConfigError(f"labels: values {sorted(both)} are both positive and negative")
    return {**{v: 0 for v in neg}, **{v: 1 for v in pos}}, ["|".join(neg), "|".join(pos)], 2


def _lookup(mapping: dict[str, int], value: str) -> int | None:
    if value in mapping:
        return mapping[value]
    return mapping.get("*")


def read_labelled_variants(
    path: str | Path,
    label_key: str,
    mapping: dict[str, int],
    genome: GenomeSet | None = None,
    on_ref_mismatch: str = "error",
    class_names: Sequence[str] | None = None,
) -> tuple[list[LabelledVariant], ReadStats]:
    """Read labelled biallelic variants from a VCF (INFO `label_key`) or TSV (column `label_key`).

    Args:
        path: VCF or TSV (see `genomamba.io.vcf`).
        label_key: INFO key (VCF) or column name (TSV).
        mapping: from `label_mapping` (`"*"` is the class of every other value).
        genome: when given, REF is checked against it and unknown contigs raise.
        on_ref_mismatch: "error" (raise `RefAlleleMismatch`) or "skip" (count it).

    Raises:
        VcfError: malformed input. ConfigError: a TSV without the label column.
        RefAlleleMismatch / GenomambaError: REF disagrees with the FASTA / unknown contig (name the record).
    """
    if on_ref_mismatch not in ("error", "skip"):
        raise ConfigError(f"on_ref_mismatch must be 'error' or 'skip', got {on_ref_mismatch!r}")
    header, records = read_variants(path)
    col = None
    if header.kind == "tsv":
        if label_key not in header.columns:
            raise ConfigError(f"{path}: no label column {label_key!r} in {header.columns}")
        col = header.columns.index(label_key)
    lengths = genome.lengths if genome is not None else None
    stats, out = ReadStats(), []
    for rec in records:
        stats.records += 1
        value = rec.fields[col] if col is not None else parse_info(rec.fields[7]).get(label_key)
        if value is None or value is True or value in ("", "."):
            stats.no_label += 1
            continue
        label = _lookup(mapping, str(value))
        if label is None:
            stats.unmapped_label += 1
            continue
        if len(rec.alts) != 1:
            stats.multiallelic += 1
            continue
        alt = rec.alts[0]
        if not is_sequence_allele(alt) or not is_sequence_allele(rec.ref):
            stats.symbolic += 1
            continue
        if lengths is not None:
            if rec.chrom not in lengths:
                raise GenomambaError(f"{rec.where}: contig {rec.chrom!r} is not in the reference FASTA")
            if rec.end > lengths[rec.chrom] or genome.fetch(rec.chrom, rec.start, rec.end).upper() != rec.ref.upper():
                if on_ref_mismatch == "error":
                    raise RefAlleleMismatch(
                        f"{rec.where}: REF {rec.ref} at {rec.chrom}:{rec.start + 1} disagrees with the reference FASTA"
                    )
                stats.ref_mismatch += 1
                continue
        out.append(LabelledVariant(rec.chrom, rec.start, rec.ref, alt, label, str(value), rec.source, rec.line))
        name = class_names[label] if class_names is not None else str(label)
        stats.per_class[name] = stats.per_class.get(name, 0) + 1
    stats.kept = len(out)
    return out, stats


def class_weights(labels: Sequence[int] | np.ndarray, num_classes: int) -> list[float]:
    """Balanced class weights `n / (C * n_c)` (0 for a class absent from `labels`)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(np.float64)
    n = counts.sum()
    return [float(n / (num_classes * c)) if c > 0 else 0.0 for c in counts]


class VariantDataset(Dataset):
    """Variants -> `build_inputs` dicts with "label", windows fetched on demand.

    The genome opens lazily, once per DataLoader worker (FastaReader handles are per process).
    """

    def __init__(self, variants: Sequence[LabelledVariant], fastas: Sequence[str], window: int, cache_dir: str | None = None):
        self.variants = list(variants)
        self.fastas, self.window, self.cache_dir = [str(f) for f in fastas], int(window), cache_dir
        self._genome: GenomeSet | None = None

    @property
    def genome(self) -> GenomeSet:
        if self._genome is None:
            self._genome = GenomeSet(self.fastas, cache_dir=self.cache_dir)
        return self._genome

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_genome": None}

    def __len__(self) -> int:
        return len(self.variants)

    def __getitem__(self, index: int) -> dict:
        v = self.variants[index]
        item = variant_inputs(self.genome, v.chrom, v.start, v.ref, v.alt, self.window)
        item["label"] = v.label
        return item
