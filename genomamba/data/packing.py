"""Packed variable-length sequences: several records laid end to end in one row, told apart by
`seq_idx` (`[L]` int, the piece each position belongs to), so the model restarts at every piece
instead of the batch carrying padding (see `genomamba.models.base`).

`pack_rows` is the layout shared by packed scoring (`genomamba.scoring.likelihood`) and packed
validation rows; `collate_padded` batches variable-length samples (whole records), marking the
padding as a sequence of its own so a bidirectional model never mixes it into a record;
`same_sequence_targets` is the next-base loss's mask: the base after a boundary belongs to the
next record and is not a target of the last position of the previous one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from genomamba.alphabet import PAD

__all__ = ["pack_rows", "piece_ids", "collate_padded", "same_sequence_targets"]


def pack_rows(lengths: Sequence[int], width: int) -> list[tuple[int, int]]:
    """(row, offset) of each segment laid end to end in rows of `width`, in order: a segment that does
    not fit in the current row starts the next one (every length must be <= width)."""
    places, row, used = [], 0, 0
    for n in lengths:
        if used and used + n > width:
            row, used = row + 1, 0
        places.append((row, used))
        used += n
    return places


def piece_ids(lengths: Sequence[int], width: int | None = None) -> np.ndarray:
    """seq_idx `[width]` int32 of pieces of `lengths` laid end to end: piece k's positions hold k, the
    padded tail (up to `width`) holds len(lengths)."""
    ids = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    if width is not None and width > ids.shape[0]:
        ids = np.concatenate([ids, np.full(width - ids.shape[0], len(lengths), np.int32)])
    return ids


def collate_padded(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Variable-length samples -> a batch right-padded to the longest: tokens with PAD, softmask with
    False, and `seq_idx` `[B, L]` (a sample's own, else 0) with the padding as one more sequence."""
    width = max(it["tokens"].shape[0] for it in items)
    out = {"tokens": torch.full((len(items), width), PAD, dtype=torch.uint8),
           "seq_idx": torch.empty(len(items), width, dtype=torch.int32)}
    if "softmask" in items[0]:
        out["softmask"] = torch.zeros(len(items), width, dtype=torch.bool)
    for i, it in enumerate(items):
        n = it["tokens"].shape[0]
        out["tokens"][i, :n] = it["tokens"]
        seq = it.get("seq_idx")
        out["seq_idx"][i, :n] = 0 if seq is None else seq
        out["seq_idx"][i, n:] = 1 if seq is None else int(seq.max()) + 1
        if "softmask" in out:
            out["softmask"][i, :n] = it["softmask"]
    return out


def same_sequence_targets(seq_idx: torch.Tensor) -> torch.Tensor:
    """`[B, L-1]` bool: True where target t+1 (predicted from position t) is in t's sequence."""
    return seq_idx[:, 1:] == seq_idx[:, :-1]
