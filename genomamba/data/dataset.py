"""Map-style datasets of DNA windows read on demand from indexed FASTA files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from genomamba.alphabet import PAD, N, reverse_complement
from genomamba.data.windows import RandomWindows, Window
from genomamba.io.fasta import GenomeSet



class GenomeWindowDataset(Dataset):
    """Random windows (training) or a fixed list of windows (evaluation) from a genome set.

    Item i -> {"tokens": `[window]` uint8, PAD past a short interval's end} (+ "softmask": `[window]`
    bool when `return_softmask`). Random mode: item i is a pure function of (seed, i); windows whose
    N fraction exceeds `max_n_fraction` are redrawn (up to 8 times). Files reopen per worker.
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
        return_softmask: bool = False,
        cache_dir: str | None = None,
    ):
        if (sampler is None) == (windows is None):
            raise ValueError("give exactly one of sampler= (random windows) or windows= (a fixed list)")
        self.genome = fastas if isinstance(fastas, GenomeSet) else GenomeSet(fastas, cache_dir=cache_dir)
        self.window, self.sampler, self.windows = window, sampler, list(windows) if windows is not None else None
        self.num_samples = len(self.windows) if self.windows is not None else (num_samples or 2**62)
        self.max_n_fraction, self.return_softmask = max_n_fraction, return_softmask

    def __len__(self) -> int:
        return self.num_samples

    def window_at(self, index: int) -> Window:
        return self.windows[index] if self.windows is not None else self.sampler.draw(index)

    def _read(self, w: Window) -> tuple[np.ndarray, np.ndarray | None]:
        """Tokens of a window (reverse-complemented if it says so), padded to the window length."""
        fetched = self.genome.fetch_tokens(w.chrom, w.start, w.end, return_softmask=self.return_softmask)
        tokens, soft = fetched if self.return_softmask else (fetched, None)
        if w.reverse:
            tokens = reverse_complement(tokens)
            soft = soft[::-1] if soft is not None else None
        if len(tokens) < self.window:
            tokens = np.concatenate([tokens, np.full(self.window - len(tokens), PAD, np.uint8)])
            soft = np.concatenate([soft, np.zeros(self.window - len(soft), bool)]) if soft is not None else None
        return tokens, soft

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.windows is not None:
            tokens, soft = self._read(self.windows[index])
        else:
            limit = self.max_n_fraction * self.window
            for attempt in range(8):
                tokens, soft = self._read(self.sampler.draw(index, attempt))
                if limit >= self.window or np.count_nonzero(tokens >= N) <= limit:  # N and PAD
                    break
        item = {"tokens": torch.from_numpy(np.ascontiguousarray(tokens))}
        if soft is not None:
            item["softmask"] = torch.from_numpy(np.ascontiguousarray(soft))
        return item
