"""State-cached variant windows: the reference run once, each ALT only over its allele and suffix.

A causal model's output at t depends only on bases <= t, and a reference window and its alt
window share their first `p` bases (p = the allele's offset in the orientation scored: the
prefix P on the forward strand, rc(S) on the reverse complement). So the ref window is run once,
in chunks split at every allele offset its ALTs need, keeping the model state (per layer: conv +
SSM state for Mamba, the KV cache for the transformer, the last k bases for a Markov model) at
each split; every ALT then runs only `alt[p:]` from that state, many ALTs batched with per-row
initial states gathered along dim 0. The alt track is the ref track over `[0, p)` followed by the
ALT's own `ll[p:]` (`ll[p]` from the ref's logits at p-1), so the rules of `zero_shot` see
exactly the tracks the full alt window gives (up to float rounding of the chunked scan).

Work per ALT drops from a whole window W to its suffix (about W/2 for a centred window); a ref
window shared by several ALTs (multi-allelic records, saturation mutagenesis) is run once for all.
`next_base_ll` is the one place that turns logits into per-base log-likelihoods.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable

import numpy as np
import torch

from genomamba.alphabet import PAD, N, pad_rows
from genomamba.models.state_tree import cat_rows, select_rows, state_signature

__all__ = ["cached_tracks", "next_base_ll", "supports_state_cache"]

Key = Hashable
TrackArrays = tuple[np.ndarray, np.ndarray]  # (ll float64 [L], valid bool [L])


def supports_state_cache(model: torch.nn.Module) -> bool:
    """A causal model whose forward carries a state (`forward(x, state, return_state=True)`):
    char_mamba, transformer and Markov models; not a bidirectional encoder, nor a Mamba on the
    `mamba_ssm` scan backend (it takes no initial state)."""
    return (bool(getattr(model, "is_causal", True)) and callable(getattr(model, "allocate_state", None))
            and all(getattr(m, "scan_backend", None) != "mamba_ssm" for m in model.modules()))


def next_base_ll(prev_logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`ll = log_softmax(prev_logits)[target]` per position, 0 and invalid where the target is N or PAD.

    prev_logits `[B, L, V]` are the logits predicting `targets` `[B, L]` (the model's output one
    position earlier). Returns ll (fp64) and valid (bool), both `[B, L]`.
    """
    logp = torch.log_softmax(prev_logits.float(), dim=-1)
    ll = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    valid = (targets != N) & (targets != PAD)
    return torch.where(valid, ll, torch.zeros_like(ll)).double(), valid


@torch.inference_mode()
def cached_tracks(
    model: torch.nn.Module,
    refs: dict[Key, np.ndarray],
    alts: dict[Key, tuple[Key, int, np.ndarray]],
    batch_size: int,
    device: torch.device,
    stats=None,
) -> dict[Key, TrackArrays]:
    """The (ll, valid) track of every ref window and every alt window, alts from the ref's state.

    Args:
        refs: ref key -> ref window tokens `[L]`.
        alts: alt key -> (ref key, p, alt window tokens), where `alt[:p] == refs[ref key][:p]`.
        batch_size: ref windows per forward call; an alt batch holds as many tokens as a ref batch.
        stats: a `ScoreStats` to count model calls and rows in (optional).
    """
    sites: dict[Key, list[Key]] = defaultdict(list)
    for ak, (rk, _, _) in alts.items():
        sites[rk].append(ak)
    # windows that split at the same offsets batch together (centred SNVs: one split per window)
    same: dict[tuple, list[Key]] = defaultdict(list)
    for k in refs:
        same[(len(refs[k]), tuple(sorted({alts[a][1] for a in sites[k]})))].append(k)
    out: dict[Key, TrackArrays] = {}
    for keys in same.values():
        for i in range(0, len(keys), batch_size):
            _ref_batch(model, keys[i : i + batch_size], refs, alts, sites, batch_size, device, stats, out)
    return out


def _ref_batch(model, keys, refs, alts, sites, batch_size, device, stats, out) -> None:
    """Run one batch of ref windows in chunks split at its ALTs' offsets, then those ALTs."""
    x = torch.from_numpy(pad_rows([refs[k] for k in keys])).to(device)
    L = x.shape[1]
    splits = sorted({alts[a][1] for k in keys for a in sites[k]} - {0})
    state, parts, snaps, prev = None, [], {0: None}, 0
    for s in [*splits, L]:
        logits, state = model(x[:, prev:s], state, return_state=True)
        parts.append(logits)
        snaps[s] = state
        prev = s
    logits = torch.cat(parts, dim=1)  # [B, L, V], as one pass over the whole window
    _count(stats, len(parts), len(keys))
    ll, valid = next_base_ll(logits[:, :-1], x[:, 1:])
    ll, valid = ll.cpu().numpy(), valid.cpu().numpy()
    ref_tracks = {}
    for r, k in enumerate(keys):
        n = len(refs[k])
        ref_tracks[k] = (np.concatenate([[0.0], ll[r, : n - 1]]), np.concatenate([[False], valid[r, : n - 1]]))
        out[k] = ref_tracks[k]
    # ALTs whose states stack batch together (Mamba: all offsets; a KV cache: one offset), by tokens
    groups: dict[tuple | None, list[tuple[int, Key, int]]] = defaultdict(list)
    for r, k in enumerate(keys):
        for a in sites[k]:
            p = alts[a][1]
            groups[state_signature(snaps[p]) if p else None].append((r, a, p))
    budget = batch_size * L
    for rows in groups.values():
        rows.sort(key=lambda rap: len(alts[rap[1]][2]) - rap[2])  # each row is the widest of its batch so far
        batch: list[tuple[int, Key, int]] = []
        for row in rows:
            if batch and (len(batch) + 1) * (len(alts[row[1]][2]) - row[2]) > budget:
                _alt_batch(model, batch, alts, snaps, logits, ref_tracks, keys, device, stats, out)
                batch = []
            batch.append(row)
        _alt_batch(model, batch, alts, snaps, logits, ref_tracks, keys, device, stats, out)


def _alt_batch(model, rows, alts, snaps, ref_logits, ref_tracks, keys, device, stats, out) -> None:
    """Score `alt[p:]` for every (ref row, alt key, p) in `rows`, each from the ref state at its p."""
    rows = sorted(rows, key=lambda rap: rap[2])  # one state gather per offset
    r_idx = torch.tensor([r for r, _, _ in rows], device=device)
    p_idx = torch.tensor([p for _, _, p in rows], device=device)
    xs = torch.from_numpy(pad_rows([alts[a][2][p:] for _, a, p in rows])).to(device)
    state = None
    if rows[0][2] > 0:  # a batch is all p > 0 or all p == 0 (the allele opens the window: no state)
        offsets = sorted({p for _, _, p in rows})
        state = cat_rows([select_rows(snaps[p], r_idx[p_idx == p]) for p in offsets])
    logits = model(xs, state)
    _count(stats, 1, len(rows))
    # ll[p] comes from the ref's logits at p - 1 (for p == 0 a placeholder: ll[0] has no context)
    first = ref_logits[r_idx, (p_idx - 1).clamp(min=0)] if state is not None else logits[:, 0]
    ll, valid = next_base_ll(torch.cat([first[:, None], logits[:, :-1]], dim=1), xs)
    ll, valid = ll.cpu().numpy(), valid.cpu().numpy()
    for j, (r, a, p) in enumerate(rows):
        n = len(alts[a][2]) - p
        rll, rvalid = ref_tracks[keys[r]]
        a_ll, a_valid = ll[j, :n].copy(), valid[j, :n].copy()
        if p == 0:
            a_ll[0], a_valid[0] = 0.0, False
        out[a] = (np.concatenate([rll[:p], a_ll]), np.concatenate([rvalid[:p], a_valid]))


def _count(stats, calls: int, rows: int) -> None:
    if stats is not None:
        stats.model_calls += calls
        stats.windows_scored += rows
