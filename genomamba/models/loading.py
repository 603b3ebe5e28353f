"""Load any model directory by the "model_type" in its config.json (explicit dispatch on that key)."""

from __future__ import annotations

from pathlib import Path

import torch

from genomamba.device import resolve_device
from genomamba.errors import GenomambaError
from genomamba.models.directory import read_model_config
from genomamba.models.lm import MODEL_TYPE as CHAR_MAMBA
from genomamba.models.lm import CharMambaLM
from genomamba.models.markov import MODEL_TYPE as MARKOV
from genomamba.models.markov import MarkovLM
from genomamba.models.transformer import MODEL_TYPE as TRANSFORMER
from genomamba.models.transformer import TransformerLM
from genomamba.models.variant_effect import HEAD_MODEL_TYPE as HEAD
from genomamba.models.variant_effect import VariantEffectModel
from genomamba.pretrained import resolve_model_dir

__all__ = ["load_model"]


def load_model(path: str | Path, device: str | torch.device = "auto",
               quantize: str | None = None) -> CharMambaLM | TransformerLM | MarkovLM | VariantEffectModel:
    """Load the model directory at `path` onto `device`, in eval mode.

    Args:
        path: a directory with config.json (+ model.safetensors), as `save_pretrained`,
            `genomamba-train` or `genomamba-score fit-markov` write it, or the name of a model
            shipped with the package (`genomamba.pretrained.PRETRAINED`: "bacteria-small",
            "human-small").
        device: where to put the model; "auto" (CUDA when available, else the CPU) as
            `genomamba.device.resolve_device` decides.
        quantize: None, or "int8" for weight-only INT8 linear layers, for inference
            (`genomamba.models.quantize.quantize_int8`; neural language models only).

    Returns:
        A `CharMambaLM` ("model_type": "char_mamba", also assumed when the key is absent, as in
        directories written before it existed), a `TransformerLM` ("transformer"), a `MarkovLM`
        ("markov") or a `VariantEffectModel` ("variant_head").

    Raises:
        GenomambaError: not a model directory, an unknown model_type, or a damaged directory
            (unreadable JSON or weights, tensors that disagree with config.json, NaN or inf
            weights); one line naming the file (and the tensor).
        ConfigError: an unknown or invalid config key (names the key and the file).
    """
    if quantize not in (None, "int8"):
        raise GenomambaError(f"quantize must be None or 'int8', got {quantize!r}")
    model = _load(resolve_model_dir(path), resolve_device(device))
    if quantize == "int8":
        if not isinstance(model, (CharMambaLM, TransformerLM)):
            raise GenomambaError(f"{path}: --quantize int8 needs a neural language model, not a {type(model).__name__}")
        from genomamba.models.quantize import quantize_int8

        quantize_int8(model)
    return model


def _load(path: Path, device: torch.device):
    model_type = read_model_config(path).get("model_type", CHAR_MAMBA)
    if model_type == CHAR_MAMBA:
        return CharMambaLM.from_pretrained(path, device=device)
    if model_type == TRANSFORMER:
        return TransformerLM.from_pretrained(path, device=device)
    if model_type == MARKOV:
        return MarkovLM.from_pretrained(path, device=device)
    if model_type == HEAD:
        return VariantEffectModel.from_pretrained(path, device=device)
    raise GenomambaError(
        f"{path}: unknown model_type {model_type!r} in config.json (expected {CHAR_MAMBA!r}, {TRANSFORMER!r}, {MARKOV!r} or {HEAD!r})"
    )
