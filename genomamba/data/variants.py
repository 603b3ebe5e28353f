"""Labelled variants for variant-effect heads: reading, label mapping, windows, LightningDataModule.

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

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from genomamba.alphabet import encode
from genomamba.data.splits import assign_folds, fold_indices
from genomamba.errors import ConfigError, GenomambaError, RefAlleleMismatch
from genomamba.io.fasta import GenomeSet
from genomamba.io.vcf import parse_info, read_variants
from genomamba.models.heads import build_inputs, collate_inputs
from genomamba.scoring.variants import place_window

__all__ = [
    "LabelledVariant", "ReadStats", "label_mapping", "read_labelled_variants", "variant_inputs",
    "class_weights", "VariantDataset", "VariantDataModule",
]

log = logging.getLogger(__name__)
_DNA = set("ACGTNacgtn")


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
        if not set(alt) <= _DNA or not set(rec.ref) <= _DNA:
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


def variant_inputs(genome: GenomeSet, chrom: str, start: int, ref: str, alt: str, window: int) -> dict:
    """`build_inputs` of one variant: its reference window (`place_window`) fetched from `genome`."""
    length = genome.lengths[chrom]
    ws, we = place_window(start, start + len(ref), length, window)
    tokens = genome.fetch_tokens(chrom, ws, we)
    return build_inputs(tokens, start - ws, len(ref), encode(alt, source="ALT", record=chrom))


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


class VariantDataModule(L.LightningDataModule):
    """Labelled variants split into train / validation by position blocks (one held-out fold).

    Args:
        vcf: labelled VCF or TSV. fasta: reference FASTA (or a list of FASTAs).
        label_key: INFO key (VCF) or column (TSV) holding the label.
        positive, negative, classes: the label mapping (see `label_mapping`).
        window: reference window W in bp. batch_size: variants per batch per device.
        n_folds, fold: blocks are assigned to `n_folds` folds; `fold` is held out for validation.
        block_size: block size in bp; bed: BED of blocks instead (variants outside fall back to
            `block_size` bins). seed: fixes the fold assignment and the training order.
        on_ref_mismatch: "error" or "skip". limit: keep a random subset of this many variants
            (smoke tests). num_workers: DataLoader workers. cache_dir: see `FastaReader`.

    Attributes (after `setup`): `class_weights` (from the training split), `num_classes`,
    `class_names`, `folds`.
    """

    def __init__(
        self,
        vcf: str,
        fasta: str | Sequence[str],
        label_key: str = "LABEL",
        positive: Sequence | None = None,
        negative: Sequence | None = None,
        classes: Sequence | None = None,
        window: int = 128,
        batch_size: int = 16,
        n_folds: int = 5,
        fold: int = 0,
        block_size: int | None = 10_000,
        bed: str | None = None,
        seed: int = 0,
        on_ref_mismatch: str = "error",
        limit: int | None = None,
        num_workers: int = 0,
        cache_dir: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        fastas = [fasta] if isinstance(fasta, (str, Path)) else list(fasta)
        for p in [vcf, *fastas]:
            if not Path(p).exists():
                raise ConfigError(f"data: file not found: {p}")
        if not 0 <= fold < n_folds:
            raise ConfigError(f"data.fold must be in [0, {n_folds}), got {fold}")
        self.fastas = [str(p) for p in fastas]
        self.mapping, self.class_names, self.num_classes = label_mapping(positive, negative, classes)
        self.window, self.batch_size, self.num_workers = int(window), int(batch_size), int(num_workers)
        self.class_weights: list[float] | None = None
        self.folds: np.ndarray | None = None
        self._train_ds = self._valid_ds = None

    def setup(self, stage: str | None = None) -> None:
        if self._train_ds is not None:
            return
        hp = self.hparams
        genome = GenomeSet(self.fastas, cache_dir=hp.cache_dir)
        variants, stats = read_labelled_variants(hp.vcf, hp.label_key, self.mapping, genome, hp.on_ref_mismatch, self.class_names)
        genome.close()
        log.info("%s: %s", hp.vcf, stats.summary())
        if hp.limit is not None and hp.limit < len(variants):
            keep = np.sort(np.random.default_rng(hp.seed).choice(len(variants), hp.limit, replace=False))
            variants = [variants[i] for i in keep]
        if not variants:
            raise ConfigError(f"data: no labelled variants kept from {hp.vcf} ({stats.summary()})")
        self.folds = assign_folds([v.chrom for v in variants], [v.start for v in variants], hp.n_folds,
                                  hp.block_size, hp.bed, hp.seed)
        train_idx, valid_idx = fold_indices(self.folds, hp.fold)
        train = [variants[i] for i in train_idx]
        self.class_weights = class_weights([v.label for v in train], self.num_classes)
        self._train_ds = VariantDataset(train, self.fastas, self.window, hp.cache_dir)
        self._valid_ds = VariantDataset([variants[i] for i in valid_idx], self.fastas, self.window, hp.cache_dir)

    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        self.setup()
        rank, world = self._world()
        # the trainer runs with use_distributed_sampler=false (GenomeDataModule shards itself): shard here too
        sampler = DistributedSampler(self._train_ds, world, rank, shuffle=True, seed=self.hparams.seed) if world > 1 else None
        generator = torch.Generator().manual_seed(self.hparams.seed) if sampler is None else None
        return DataLoader(self._train_ds, batch_size=self.batch_size, shuffle=sampler is None, sampler=sampler,
                          generator=generator, collate_fn=collate_inputs, num_workers=self.num_workers, drop_last=False)

    def val_dataloader(self) -> DataLoader:
        # every rank scores the whole fold: AUROC/AUPRC need all predictions, and folds are small
        self.setup()
        return DataLoader(self._valid_ds, batch_size=self.batch_size, shuffle=False, collate_fn=collate_inputs,
                          num_workers=self.num_workers)
