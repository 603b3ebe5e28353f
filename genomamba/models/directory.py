"""Model directories on disk: `config.json` + `model.safetensors`, read and written for every model.

Reading checks what a damaged or hand-edited directory gets wrong and says so in one line naming
the file (and the tensor): unreadable or non-object JSON, an empty, truncated or corrupt
safetensors file, tensors missing, unexpected or of a shape other than config.json implies, and
NaN or inf weights (which would otherwise load silently and score `nan`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from genomamba.atomic import atomic_path, atomic_write_text
from genomamba.errors import GenomambaError
from genomamba.pretrained import PRETRAINED

__all__ = [
    "CONFIG_NAME", "WEIGHTS_NAME", "check_tensors", "config_section", "file_sha256", "load_state", "read_model_config",
    "read_typed_config",
    "read_weights", "write_model_directory",
]

CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes, read in pieces: how a head pins its backbone's weights
    and the vep-cv feature cache keys a model directory and a reference."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def read_model_config(path: str | Path) -> dict:
    """The parsed config.json of the model directory `path`.

    Raises:
        GenomambaError: `path` is not a directory with a config.json, or the file is not a JSON
            object (names the file, and the line and column of a JSON syntax error).
    """
    path = Path(path)
    file = path / CONFIG_NAME
    if not file.is_file():
        why = f"no {CONFIG_NAME}" if path.is_dir() else f"no such directory, nor a shipped model: {', '.join(PRETRAINED)}"
        raise GenomambaError(f"{path} is not a model directory ({why})")
    try:
        cfg = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise GenomambaError(f"{file}: line {e.lineno} column {e.colno}: invalid JSON ({e.msg})") from None
    except UnicodeDecodeError:
        raise GenomambaError(f"{file}: not UTF-8 text, so not a config.json") from None
    if not isinstance(cfg, dict):
        raise GenomambaError(f"{file}: expected a JSON object, got {type(cfg).__name__}")
    return cfg


def config_section(cfg: dict, key: str, path: str | Path) -> dict:
    """`cfg[key]`, a JSON object, from the config.json of model directory `path`."""
    section = cfg.get(key)
    if not isinstance(section, dict):
        got = "nothing" if section is None else type(section).__name__
        raise GenomambaError(f"{Path(path) / CONFIG_NAME}: {key!r} must be a JSON object, got {got}")
    return section


def read_typed_config(path: str | Path, model_type: str, config_cls, section: str = "model",
                      default_type: str | None = None):
    """config.json of `path` checked to be a `model_type` directory, and its `section` as `config_cls`.

    Args:
        default_type: the model_type assumed when the key is absent (older directories).

    Returns:
        (the whole config.json dict, `config_cls.from_dict(cfg[section])`).

    Raises:
        GenomambaError: another model_type, or a missing section (names the directory or file).
        ConfigError: an unknown or invalid key of the section (names key and file).
    """
    path = Path(path)
    cfg = read_model_config(path)
    found = cfg.get("model_type", default_type)
    if found != model_type:
        raise GenomambaError(f"{path}: model_type {found!r} is not a {model_type}")
    return cfg, config_cls.from_dict(config_section(cfg, section, path), source=path / CONFIG_NAME)


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of `path/model.safetensors`, on the CPU, checked to be finite.

    Raises:
        GenomambaError: the file is missing, empty, truncated or corrupt, or a floating-point
            tensor holds NaN or inf (names the file and the tensor).
    """
    file = Path(path) / WEIGHTS_NAME
    if not file.is_file():
        raise GenomambaError(f"{file}: missing (a model directory holds {CONFIG_NAME} and {WEIGHTS_NAME})")
    try:
        tensors = load_file(file, device="cpu")
    except (SafetensorError, OSError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenomambaError(f"{file}: empty, truncated or corrupt safetensors file ({reason})") from None
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise GenomambaError(f"{file}: tensor {bad[0]!r}{more} holds NaN or inf values")
    return tensors


def check_tensors(tensors: Mapping[str, torch.Tensor], shapes: Mapping[str, tuple[int, ...]], path: str | Path) -> None:
    """Check that `tensors` has exactly the names and shapes `shapes` (what config.json implies).

    Raises:
        GenomambaError: a tensor of another shape, missing or unexpected (names file and tensor).
    """
    file, cfg = Path(path) / WEIGHTS_NAME, Path(path) / CONFIG_NAME
    for name, shape in shapes.items():
        if name in tensors and tuple(tensors[name].shape) != tuple(shape):
            raise GenomambaError(
                f"{file}: tensor {name!r} has shape {list(tensors[name].shape)} but {cfg} implies {list(shape)}"
            )
    missing = [k for k in shapes if k not in tensors]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise GenomambaError(f"{file}: missing tensor {missing[0]!r}{more} that {cfg} implies")
    unexpected = [k for k in tensors if k not in shapes]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise GenomambaError(f"{file}: unexpected tensor {unexpected[0]!r}{more}, not in the model {cfg} describes")


def load_state(module: nn.Module, tensors: Mapping[str, torch.Tensor], path: str | Path, prefix: str = "") -> None:
    """`module.load_state_dict(tensors)` after `check_tensors` against the module's own shapes.

    Args:
        prefix: how the tensors are named in the file (e.g. "head."), for the error messages;
            `tensors` themselves come without it.
    """
    expected = {prefix + k: tuple(v.shape) for k, v in module.state_dict().items()}
    check_tensors({prefix + k: v for k, v in tensors.items()}, expected, path)
    module.load_state_dict(dict(tensors))


def write_model_directory(path: str | Path, config: dict, tensors: dict[str, torch.Tensor]) -> Path:
    """Write config.json + model.safetensors into `path` (created), each atomically."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with atomic_path(path / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    atomic_write_text(path / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
    return path
