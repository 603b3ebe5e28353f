"""Map-style datasets of DNA windows read on demand from indexed FASTA files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from genomamba.alphabet import PAD, N, reverse_complement
from genomamba.data.packing import pack_rows, piece_ids
from genomamba.data.windows import RandomWindows, Window
from genomamba.io.fasta import GenomeSet


class GenomeWindowDataset(Dataset):
    """Random windows (training) or a fixed list of windows (evaluation) from a genome set.

    Item i -> {"tokens": `[window]` uint8, PAD past a short interval's end} (+ "softmask": `[window]`
    bool when `return_softmask`). Random mode: item i is a pure function of (seed, i); windows whose
    N fraction exceeds `max_n_fraction` are redrawn (up to 8 times). Files reopen per worker.

    `pack=True`: item i is a row of `window` tokens holding several windows end to end, with
    "seq_idx" `[window]` int32 (the piece of each position; `genomamba.data.packing`) instead of
    padding. Random mode draws pieces (piece j of row i is the sampler's window i * window + j) until
    the row is full, the last one cut to fit; fixed windows are laid into rows in order by
    `pack_rows` (a row's tail after its last window is PAD, one more seq_idx).
    `pad=False` (whole records): items are as long as their window, not padded (batch them with
    `genomamba.data.packing.collate_padded`).
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
        pack: bool = False,
        pad: bool = True,
    ):
        if (sampler is None) == (windows is None):
            raise ValueError("give exactly one of sampler= (random windows) or windows= (a fixed list)")
        self.genome = fastas if isinstance(fastas, GenomeSet) else GenomeSet(fastas, cache_dir=cache_dir)
        self.window, self.sampler, self.windows = window, sampler, list(windows) if windows is not None else None
        self.pack, self.pad = pack, pad and not pack
        self.rows: list[list[Window]] | None = None
        if pack and self.windows is not None:
            places = pack_rows([w.end - w.start for w in self.windows], window)
            self.rows = [[] for _ in range(places[-1][0] + 1 if places else 0)]
            for w, (r, _) in zip(self.windows, places):
                self.rows[r].append(w)
        fixed = self.rows if self.rows is not None else self.windows
        self.num_samples = len(fixed) if fixed is not None else (num_samples or 2**62)
        self.max_n_fraction, self.return_softmask = max_n_fraction, return_softmask

    def __len__(self) -> int:
        return self.num_samples

    def window_at(self, index: int) -> Window:
        return self.windows[index] if self.windows is not None else self.sampler.draw(index)

    def _read(self, w: Window) -> tuple[np.ndarray, np.ndarray | None]:
        """Tokens of a window (reverse-complemented if it says so), padded to the window length when
        items are padded."""
        fetched = self.genome.fetch_tokens(w.chrom, w.start, w.end, return_softmask=self.return_softmask)
        tokens, soft = fetched if self.return_softmask else (fetched, None)
        if w.reverse:
            tokens = reverse_complement(tokens)
            soft = soft[::-1] if soft is not None else None
        if self.pad and len(tokens) < self.window:
            tokens = np.concatenate([tokens, np.full(self.window - len(tokens), PAD, np.uint8)])
            soft = np.concatenate([soft, np.zeros(self.window - len(soft), bool)]) if soft is not None else None
        return tokens, soft

    def _draw(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The sampler's window `index`, redrawn while its N (or padding) fraction is over the limit."""
        for attempt in range(8):
            tokens, soft = self._read(self.sampler.draw(index, attempt))
            if self.max_n_fraction >= 1.0 or np.count_nonzero(tokens >= N) <= self.max_n_fraction * len(tokens):
                break
        return tokens, soft

    def _packed_row(self, index: int):
        pieces = []
        if self.rows is not None:
            pieces = [self._read(w) for w in self.rows[index]]
        else:
            used = 0
            while used < self.window:
                tokens, soft = self._draw(index * self.window + len(pieces))
                tokens, soft = tokens[: self.window - used], None if soft is None else soft[: self.window - used]
                pieces.append((tokens, soft))
                used += len(tokens)
        lengths = [len(t) for t, _ in pieces]
        tail = self.window - sum(lengths)
        tokens = np.concatenate([t for t, _ in pieces] + [np.full(tail, PAD, np.uint8)])
        soft = None
        if self.return_softmask:
            soft = np.concatenate([s for _, s in pieces] + [np.zeros(tail, bool)])
        return tokens, soft, piece_ids(lengths, self.window)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        seq_idx = None
        if self.pack:
            tokens, soft, seq_idx = self._packed_row(index)
        elif self.windows is not None:
            tokens, soft = self._read(self.windows[index])
        else:
            tokens, soft = self._draw(index)
        item = {"tokens": torch.from_numpy(np.ascontiguousarray(tokens))}
        if seq_idx is not None:
            item["seq_idx"] = torch.from_numpy(seq_idx)
        if soft is not None:
            item["softmask"] = torch.from_numpy(np.ascontiguousarray(soft))
        return item
