"""Map-style datasets of DNA windows read on demand from indexed FASTA files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from genomamba.alphabet import N, PAD, reverse_complement
from genomamba.data.windows import RandomWindows, Window
from genomamba.io.fasta import GenomeSet


def _read(genome: GenomeSet, w: Window, length: int) -> dict[str, torch.Tensor]:
    tokens, softmask = genome.fetch_tokens(w.chrom, w.start, w.end, return_softmask=True)
    if w.reverse:
        tokens, softmask = reverse_complement(tokens), np.ascontiguousarray(softmask[::-1])
    out = np.full(length, PAD, dtype=np.int64)
    mask = np.zeros(length, dtype=bool)
    out[: len(tokens)] = tokens
    mask[: len(softmask)] = softmask
    return {"tokens": torch.from_numpy(out), "softmask": torch.from_numpy(mask)}


class GenomeWindowDataset(Dataset):
    """Random windows (training) or a fixed list of windows (evaluation) from a genome set.

    Item i -> {"tokens": `[window]` int64 (PAD past a short interval's end), "softmask": `[window]` bool}.
    Random mode: item i is a pure function of (seed, i); windows whose N fraction exceeds
    `max_n_fraction` are redrawn (up to 8 times). The genome set reopens its files per worker.
    """

    def __init__(
        self,
        fastas: Sequence[str | Path] | GenomeSet,
        window: int,
        *,
        sampler: RandomWindows | None = None,
        windows: Sequence[Window] | None = None,
        num_samples: int | None = None,
        max_n_fraction: float = 1.0,
        cache_dir: str | None = None,
    ):
        if (sampler is None) == (windows is None):
            raise ValueError("give exactly one of sampler= (random windows) or windows= (a fixed list)")
        self.genome = fastas if isinstance(fastas, GenomeSet) else GenomeSet(fastas, cache_dir=cache_dir)
        self.window, self.sampler, self.windows = window, sampler, list(windows) if windows is not None else None
        self.num_samples = len(self.windows) if self.windows is not None else (num_samples or 2**62)
        self.max_n_fraction = max_n_fraction

    def __len__(self) -> int:
        return self.num_samples

    def window_at(self, index: int) -> Window:
        if self.windows is not None:
            return self.windows[index]
        return self.sampler.draw(index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.windows is not None:
            return _read(self.genome, self.windows[index], self.window)
        for attempt in range(8):
            item = _read(self.genome, self.sampler.draw(index, attempt), self.window)
            tokens = item["tokens"]
            n_frac = float(((tokens == N) | (tokens == PAD)).float().mean())
            if n_frac <= self.max_n_fraction:
                break
        return item
