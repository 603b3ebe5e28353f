"""On-disk cache of what a frozen language model gives a labelled set (`vep-cv --cache-dir`): the
backbone features and zero-shot scores, the GPU part of `cross_validate_heads`, so a run killed in
its CPU folds, or run again with other fold, head or baseline settings, does not redo them.

One `.npz` file per language model and input set, named by a SHA-256 key of everything that
determines the arrays:

- the model: for a model directory (or a shipped model's name), the bytes of its config.json and
  model.safetensors; for a loaded module, its class, config and every state_dict tensor. A
  directory and the same model loaded are two keys (the directory is identified without
  loading it).
- the reference FASTA's bytes.
- the variants scored, in order: chrom, start, REF and ALT of each, i.e. what the variants file,
  the label settings (`label`, `positive`, `negative`, `on_ref_mismatch`), `limit` and `seed`
  selected from it. Labels themselves change no feature; they are re-read on every run.
- `window`, `strands`, what the arrays are (`kind`), this module's FORMAT and the package version.

Batch size and device are not in the key: they change the arrays only by floating-point rounding.
A file whose stored key or variants differ from the run's (a hash collision, a hand-copied file)
is not used. Files are written atomically (`genomamba.atomic`), so a killed run leaves none half
written.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from genomamba.atomic import atomic_path
from genomamba.data.labelled_variants import LabelledVariant

__all__ = ["FORMAT", "cache_file", "load_or_compute", "model_identity", "variants_digest"]

FORMAT = 1  # bump when what the cached arrays mean changes (features or scoring code)


def model_identity(model: str | Path | torch.nn.Module) -> str:
    """SHA-256 hex digest that changes whenever the model's weights or config do."""
    from genomamba.models.directory import CONFIG_NAME, WEIGHTS_NAME, file_sha256
    from genomamba.pretrained import resolve_model_dir

    h = hashlib.sha256()
    if isinstance(model, (str, Path)):
        path = resolve_model_dir(model)
        h.update(b"directory\0")
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            h.update(f"{name}\0{file_sha256(path / name) if (path / name).is_file() else '-'}\0".encode())
        return h.hexdigest()
    h.update(f"module\0{type(model).__module__}.{type(model).__qualname__}\0".encode())
    config = getattr(model, "config", None)
    if config is not None:
        as_dict = config.to_dict() if hasattr(config, "to_dict") else vars(config)
        h.update(json.dumps(as_dict, sort_keys=True, default=str).encode() + b"\0")
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().to("cpu").contiguous().reshape(-1)
        h.update(f"{name}\0{t.dtype}\0{t.numel()}\0".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def variants_digest(variants: Sequence[LabelledVariant]) -> str:
    """SHA-256 hex digest of the variants' chrom, start, REF and ALT, in order."""
    h = hashlib.sha256()
    for v in variants:
        h.update(f"{v.chrom}\t{v.start}\t{v.ref}\t{v.alt}\n".encode())
    return h.hexdigest()


def cache_file(cache_dir: str | Path, kind: str, key: dict) -> Path:
    """The file of `key` (a JSON-able dict) in `cache_dir`: `<kind>-<first 24 hex of its SHA-256>.npz`."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return Path(cache_dir) / f"{kind}-{digest[:24]}.npz"


def load_or_compute(
    cache_dir: str | Path | None, kind: str, key: dict, variants: Sequence[LabelledVariant],
    compute: Callable[[], dict[str, np.ndarray]], progress: bool = True, about: dict | None = None,
) -> tuple[dict[str, np.ndarray], Path | None, bool]:
    """The arrays of `key`: read from `cache_dir` if a matching file is there, else `compute()`d
    and written there (atomically). `cache_dir` None: just `compute()`.

    Args:
        kind: what the arrays are (part of the key and the file name), e.g. "backbone".
        key: what determines the arrays (JSON-able); `kind` and FORMAT are added.
        variants: the variants the arrays' rows are, checked against the file's on reading.
        about: JSON-able notes stored beside the arrays (input paths, device), not in the key.

    Returns:
        (arrays, the cache file or None, True if it was read rather than computed).
    """
    if cache_dir is None:
        return compute(), None, False
    key = {"kind": kind, "format": FORMAT, **key}
    path = cache_file(cache_dir, kind, key)
    ids = _variant_columns(variants)
    if path.is_file():
        arrays = _read(path, key, ids)
        if arrays is not None:
            if progress:
                print(f"{kind}: {len(variants)} variants read from cache {path}", file=sys.stderr, flush=True)
            return arrays, path, True
        if progress:
            print(f"{kind}: cache {path} does not match this run; recomputing", file=sys.stderr, flush=True)
    arrays = compute()
    meta = np.array(json.dumps({"key": key, "about": about or {}}, sort_keys=True, default=str))
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, __meta__=meta, **{f"__{k}__": v for k, v in ids.items()}, **arrays)
    if progress:
        print(f"{kind}: wrote cache {path}", file=sys.stderr, flush=True)
    return arrays, path, False


def _variant_columns(variants: Sequence[LabelledVariant]) -> dict[str, np.ndarray]:
    return {
        "chrom": np.array([v.chrom for v in variants], dtype=str),
        "start": np.array([v.start for v in variants], dtype=np.int64),
        "ref": np.array([v.ref for v in variants], dtype=str),
        "alt": np.array([v.alt for v in variants], dtype=str),
    }


def _read(path: Path, key: dict, ids: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """The arrays of the cache file, or None if it is unreadable or made for another key or variant list."""
    try:
        with np.load(path, allow_pickle=False) as z:
            stored = {name: z[name] for name in z.files}
        if json.loads(str(stored.pop("__meta__")))["key"] != key:
            return None
        for k, v in ids.items():
            got = stored.pop(f"__{k}__")
            if got.shape != v.shape or not np.array_equal(got, v):
                return None
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return stored
