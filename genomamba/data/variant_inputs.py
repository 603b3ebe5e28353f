"""What one variant becomes for a variant-effect model: its reference and alt windows on both
strands and the positions to pool at (numpy), batched into tensors. Windows are placed by
`genomamba.io.intervals.place_window` and fetched from a `GenomeSet`; no Lightning here."""

from __future__ import annotations

import numpy as np
import torch

from genomamba.alphabet import PAD, encode, reverse_complement
from genomamba.io.fasta import GenomeSet
from genomamba.io.intervals import place_window


def build_inputs(ref_window: np.ndarray, prefix: int, ref_len: int, alt: np.ndarray) -> dict[str, np.ndarray]:
    """Ref/alt windows of one variant on both strands, and where to pool.

    Args:
        ref_window: reference tokens `[L]` of the window (`place_window`), allele at `prefix`.
        prefix: 0-based offset of REF in the window. ref_len: len(REF).
        alt: ALT tokens `[A]` (A >= 1).

    Returns:
        {"ref": list of 2 token arrays (forward, reverse complement), "alt": same,
         "ref_pos": int64 `[2]`, "alt_pos": int64 `[2]`}: pooling positions, the allele's last
        base in each orientation.
    """
    suffix = len(ref_window) - prefix - ref_len
    if prefix < 0 or suffix < 0 or len(alt) < 1:
        raise ValueError(f"allele [{prefix}, {prefix + ref_len}) outside a window of {len(ref_window)} or empty ALT")
    alt_window = np.concatenate([ref_window[:prefix], alt.astype(ref_window.dtype), ref_window[prefix + ref_len :]])
    return {
        "ref": [ref_window, reverse_complement(ref_window)],
        "alt": [alt_window, reverse_complement(alt_window)],
        # forward: allele ends at prefix + len - 1; reverse complement: the allele follows rc(suffix)
        "ref_pos": np.array([prefix + ref_len - 1, suffix + ref_len - 1], dtype=np.int64),
        "alt_pos": np.array([prefix + len(alt) - 1, suffix + len(alt) - 1], dtype=np.int64),
    }


def collate_inputs(items: list[dict]) -> dict[str, torch.Tensor]:
    """Batch `build_inputs` outputs: windows right-padded with PAD to the longest.

    Returns:
        {"ref": `[B, 2, L]` long, "alt": `[B, 2, L']` long, "ref_pos": `[B, 2]`, "alt_pos": `[B, 2]`},
        plus "label" `[B]` long when every item has one.
    """
    out: dict[str, torch.Tensor] = {}
    for key in ("ref", "alt"):
        lmax = max(len(w) for it in items for w in it[key])
        x = np.full((len(items), 2, lmax), PAD, dtype=np.int64)
        for i, it in enumerate(items):
            for s, w in enumerate(it[key]):
                x[i, s, : len(w)] = w
        out[key] = torch.from_numpy(x)
    for key in ("ref_pos", "alt_pos"):
        out[key] = torch.from_numpy(np.stack([it[key] for it in items]))
    if items and all("label" in it for it in items):
        out["label"] = torch.tensor([int(it["label"]) for it in items], dtype=torch.long)
    return out


def variant_inputs(genome: GenomeSet, chrom: str, start: int, ref: str, alt: str, window: int) -> dict:
    """`build_inputs` of one variant: its reference window (`place_window`) fetched from `genome`."""
    length = genome.lengths[chrom]
    ws, we = place_window(start, start + len(ref), length, window)
    tokens = genome.fetch_tokens(chrom, ws, we)
    return build_inputs(tokens, start - ws, len(ref), encode(alt, source="ALT", record=chrom))
