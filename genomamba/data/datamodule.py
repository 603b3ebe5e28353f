"""LightningDataModules: `GenomeDataModule` (pretraining windows over genomes) and
`VariantDataModule` (labelled variants, position-blocked folds). The only data module that
imports Lightning.

GenomeDataModule: training and validation windows over one or more genomes.

Training draws random windows (weighted by interval length, optional reverse complement);
validation tiles held-back intervals deterministically. `pack`: short records (and windows) are
packed end to end into rows of `window` tokens with `seq_idx` instead of padded; `whole_records`:
a sample is a whole record (or a `window`-long piece of a longer one), not padded, batched to the
longest with the padding marked in `seq_idx` (see `genomamba.data.packing`). Batches then carry
"seq_idx" `[B, L]`, for the model and for the loss (no target across a boundary). The training sampler is a contiguous
range of window indices, sharded across DDP ranks; a resumed run starts at the index where the
checkpoint left off, so it sees exactly the batches an uninterrupted run would have.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from genomamba.data.dataset import GenomeWindowDataset
from genomamba.data.packing import collate_padded
from genomamba.data.splits import assign_folds, fold_indices
from genomamba.data.variant_inputs import collate_inputs
from genomamba.data.labelled_variants import (
    VariantDataset,
    class_weights,
    label_mapping,
    read_labelled_variants,
)
from genomamba.data.windows import (
    RandomWindows,
    Window,
    evenly_spaced,
    make_splits,
    tile_windows,
)
from genomamba.errors import ConfigError
from genomamba.io.fasta import GenomeSet

log = logging.getLogger(__name__)


class ResumableSampler(Sampler[int]):
    """This rank's shard of epoch e's global windows [e*size, (e+1)*size):
    indices start + rank, start + rank + world, ..., skipping the first `seen` windows of the
    whole run (those a resumed run's checkpoint had already trained on).

    Lightning calls `set_epoch` before every epoch. The length is the whole shard, skipped
    windows included: Lightning counts a resumed epoch's batches from its restored batch index,
    so a shorter length would end the epoch early.
    """

    def __init__(self, size: int, rank: int = 0, world_size: int = 1, seen: int = 0, per_epoch: bool = True):
        self.size, self.rank, self.world_size, self.seen, self.per_epoch = size, rank, world_size, seen, per_epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        # a step-based run (per_epoch=False) is one range of windows, whatever epoch Lightning counts
        self.epoch = epoch if self.per_epoch else 0

    def __iter__(self) -> Iterator[int]:
        start = self.epoch * self.size
        skip = min(max(self.seen - self.epoch * self.size, 0), self.size)
        return iter(range(start + skip + self.rank, start + self.size, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.size, self.world_size))


class GenomeDataModule(L.LightningDataModule):
    """Args:
        fastas: training genomes (paths; plain, bgzip or gzip FASTA).
        valid_fastas: separate validation genomes; if empty, validation is held back from `fastas`
            by `valid_bed`, `valid_records` or `valid_fraction` (the tail of every record).
        window: window length in bases (any length >= 2); with `pack`, the tokens per row; with
            `whole_records`, the longest sample (null: whole records however long).
            valid_window: defaults to `window`.
        batch_size: windows per batch per device. num_workers: DataLoader workers.
        rc_prob: probability of reverse-complementing a training window.
        return_softmask: also load the soft-mask flags (for the module's softmask_weight).
        max_n_fraction: training windows with more N (or padding) than this are redrawn.
        max_valid_windows: cap on validation windows (evenly spaced over the tiling).
        samples_per_epoch: training windows per epoch, all ranks together; None: as many as
            `trainer.max_steps` needs, so a step-based run is one epoch.
        seed: fixes the window order.
        pack: pack short records (and windows) into rows of `window` tokens, with seq_idx, not padding.
        whole_records: one whole record (or a `window` of a longer one) per sample, drawn by length,
            both strands by `rc_prob`, read on demand from the indexed FASTA.
    """

    def __init__(
        self,
        fastas: Sequence[str],
        window: int = 1024,
        batch_size: int = 16,
        valid_fastas: Sequence[str] = (),
        valid_fraction: float = 0.05,
        valid_records: Sequence[str] = (),
        train_bed: str | None = None,
        valid_bed: str | None = None,
        valid_window: int | None = None,
        max_valid_windows: int | None = 256,
        rc_prob: float = 0.5,
        max_n_fraction: float = 0.1,
        return_softmask: bool = False,
        samples_per_epoch: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
        cache_dir: str | None = None,
        pack: bool = False,
        whole_records: bool = False,
    ):
        super().__init__()
        if not fastas:
            raise ConfigError("data.fastas is empty: give at least one training FASTA")
        if window is None and not whole_records:
            raise ConfigError("data.window: null only with data.whole_records=true")
        if window is None and pack:
            raise ConfigError("data.pack needs data.window (the tokens per packed row), got null")
        checks = [("data.batch_size", batch_size, 1)] + ([("data.window", window, 2)] if window is not None else [])
        for key, value, low in checks:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")
        for p in list(fastas) + list(valid_fastas):
            if not Path(p).exists():
                raise ConfigError(f"data: FASTA file not found: {p}")
        self.save_hyperparameters()
        self.fastas, self.valid_fastas = [str(p) for p in fastas], [str(p) for p in valid_fastas]
        self.window, self.batch_size, self.num_workers, self.seed = window, batch_size, num_workers, seed
        self.samples_seen = 0  # global training windows consumed; restored from checkpoints
        self._train_ds = self._valid_ds = None

    def setup(self, stage: str | None = None) -> None:
        if self._train_ds is not None:
            return
        hp = self.hparams
        genome = GenomeSet(self.fastas, cache_dir=hp.cache_dir)
        if self.valid_fastas:
            train_iv, _ = make_splits(genome.lengths, train_bed=hp.train_bed)
            valid_genome = GenomeSet(self.valid_fastas, cache_dir=hp.cache_dir)
            _, valid_iv = make_splits(valid_genome.lengths, valid_fraction=0.0,
                                      valid_records=list(valid_genome.lengths), valid_bed=hp.valid_bed)
        else:
            train_iv, valid_iv = make_splits(genome.lengths, valid_fraction=hp.valid_fraction,
                                             valid_records=hp.valid_records, train_bed=hp.train_bed,
                                             valid_bed=hp.valid_bed)
            valid_genome = genome
        sampler = RandomWindows(train_iv, self.window, seed=self.seed, rc_prob=hp.rc_prob, by_length=hp.whole_records)
        layout = dict(pack=hp.pack, pad=not hp.whole_records, return_softmask=hp.return_softmask)
        self._train_ds = GenomeWindowDataset(genome, self.window, sampler=sampler, max_n_fraction=hp.max_n_fraction,
                                             **layout)
        vw = hp.valid_window or self.window
        tiles = tile_windows(valid_iv, vw) if vw else [Window(iv.chrom, iv.start, iv.end) for iv in valid_iv]
        windows = evenly_spaced(tiles, hp.max_valid_windows)
        self._valid_ds = GenomeWindowDataset(valid_genome, vw, windows=windows, **layout) if windows else None
        self._collate = collate_padded if hp.whole_records and not hp.pack else None
        if self._valid_ds is None:
            log.warning("NO VALIDATION DATA: val/bpc will not be reported and the last weights are exported; "
                        "give data.valid_fastas, data.valid_fraction > 0, data.valid_records or data.valid_bed")

    # ---- resumable training order ----
    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _samples_per_step(self) -> int:
        trainer = getattr(self, "trainer", None)
        accum = trainer.accumulate_grad_batches if trainer is not None else 1
        return self.batch_size * accum * self._world()[1]

    def _total_samples(self) -> int:
        if self.hparams.samples_per_epoch:
            return self.hparams.samples_per_epoch
        trainer = getattr(self, "trainer", None)
        if trainer is None or trainer.max_steps is None or trainer.max_steps < 0:
            raise ConfigError("set trainer.max_steps or data.samples_per_epoch")
        return trainer.max_steps * self._samples_per_step()

    def train_dataloader(self) -> DataLoader:
        self.setup()
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.global_step:
            self.samples_seen = max(self.samples_seen, trainer.global_step * self._samples_per_step())
        # epoch e reads windows [e*total, (e+1)*total); a step-based run is the one epoch [0, total)
        total = self._total_samples()
        rank, world = self._world()
        sampler = ResumableSampler(total, rank, world, seen=self.samples_seen, per_epoch=bool(self.hparams.samples_per_epoch))
        sampler.set_epoch(trainer.current_epoch if trainer is not None else 0)
        return DataLoader(
            self._train_ds, batch_size=self.batch_size, sampler=sampler, collate_fn=self._collate,
            num_workers=self.num_workers, persistent_workers=False, drop_last=True,
            pin_memory=False,
        )

    def val_dataloader(self) -> DataLoader | list:
        self.setup()
        if self._valid_ds is None:
            return []
        rank, world = self._world()
        return DataLoader(
            self._valid_ds, batch_size=self.batch_size, num_workers=self.num_workers, collate_fn=self._collate,
            sampler=list(range(rank, len(self._valid_ds), world)),  # this rank's shard, every time
        )

    def state_dict(self) -> dict:
        trainer = getattr(self, "trainer", None)
        seen = trainer.global_step * self._samples_per_step() if trainer is not None else self.samples_seen
        return {"samples_seen": seen}

    def load_state_dict(self, state: dict) -> None:
        self.samples_seen = int(state.get("samples_seen", 0))


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
