"""Safe checkpoints: loaded weights-only from local files, written atomically beside their name.

Lightning's own loader unpickles remote (http, s3) checkpoints with `weights_only=False`, and its
saver copies a temporary file from TMPDIR into place, which is a copy (not a rename) when TMPDIR is
on another filesystem: a kill during the copy leaves `last.ckpt` empty. Here every checkpoint is
read with `torch.load(weights_only=True)` from a local path only, and written to
`<dir>/.<name>.tmp` and renamed over `<name>` (atomic on one filesystem) whatever TMPDIR is.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from genomamba.errors import CheckpointError

__all__ = ["AtomicCheckpointIO", "ModelCheckpoint", "RunConfigCallback", "check_local_path", "load_checkpoint", "restore_best"]

log = logging.getLogger(__name__)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def check_local_path(path: str | os.PathLike) -> Path:
    """The checkpoint path, refused unless it is a local, non-empty file (URLs are never fetched)."""
    text = os.fspath(path)
    if _URL.match(text):
        raise CheckpointError(f"{text}: remote checkpoints are refused; download it and pass the local path")
    p = Path(text).expanduser()
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint not found")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{p}: checkpoint is empty (0 bytes)")
    return p


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """`torch.load(path, weights_only=True)` of a local checkpoint, with one-line errors.

    Raises:
        CheckpointError: a URL, a missing, empty, truncated or corrupt file, or one that needs
            arbitrary unpickling (which could run code).
    """
    p = check_local_path(path)
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{p}: not a weights-only checkpoint, refused ({first})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"{p}: truncated or corrupt checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{p}: not a Lightning checkpoint (no state_dict)")
    return ckpt


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes `<dir>/.<name>.tmp`, fsyncs it and renames it over `<name>`; loads weights-only."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return load_checkpoint(path, map_location=map_location or "cpu")


class ModelCheckpoint(L.pytorch.callbacks.ModelCheckpoint):
    """Lightning's ModelCheckpoint with one `last.ckpt`: a resumed run (also into a copied or moved
    run folder) overwrites it rather than writing `last-v1.ckpt` beside a stale one."""

    def __init__(self, *args, enable_version_counter: bool = False, **kwargs):
        super().__init__(*args, enable_version_counter=enable_version_counter, **kwargs)


class RunConfigCallback(L.Callback):
    """Stores the run's resolved configuration (plain containers) in every checkpoint, so a resumed
    run can restore it wherever the checkpoint has been moved."""

    KEY = "genomamba_run_config"

    def __init__(self, config: dict[str, Any], choices: dict[str, Any] | None = None):
        self.config, self.choices = config, dict(choices or {})  # choices: config group -> option

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[self.KEY] = {"config": self.config, "choices": self.choices}


def restore_best(trainer: L.Trainer, module: L.LightningModule) -> tuple[str, float] | None:
    """Load the weights of the best checkpoint by the monitored metric (e.g. lowest val/bpc), so the
    exported model is the one that generalised best, not the last (possibly overfitted) one.

    Returns (its path, its score), or None (no monitored best, or its file is gone: the last
    weights stay, e.g. when the folder of a resumed run's checkpoint was moved).
    """
    callback = trainer.checkpoint_callback
    path = getattr(callback, "best_model_path", "") if callback is not None else ""
    if not path or getattr(callback, "monitor", None) is None or callback.best_model_score is None:
        return None
    if not Path(path).is_file():
        log.warning("best checkpoint %s is gone: exporting the last weights", path)
        return None
    module.load_state_dict(load_checkpoint(path)["state_dict"])
    if trainer.is_global_zero:
        log.info("exporting the best checkpoint %s (%s = %.4f)", path, callback.monitor, float(callback.best_model_score))
    return path, float(callback.best_model_score)
