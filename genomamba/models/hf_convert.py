"""Convert between CharMambaLM model directories and other Mamba checkpoints (no transformers needed).

Formats (told apart by their config.json):
- genomamba: `"model_type": "char_mamba"` (or absent) with a "model" section; see `models/directory.py`.
- Hugging Face transformers `MambaForCausalLM`: `"model_type": "mamba"`; weights named
  `backbone.embeddings.weight`, `backbone.layers.N.{norm,mixer.*}`, `backbone.norm_f.weight`,
  `lm_head.weight` in model.safetensors (or sharded with an index), or pytorch_model.bin.
- mamba-ssm `MambaLMHeadModel` (Caduceus and others use its names): config.json with "d_model" and
  "n_layer", pytorch_model.bin; weights named like transformers' but `backbone.embedding.weight`.

The mixer's own names (in_proj, conv1d, x_proj, dt_proj, out_proj, A_log, D) and shapes are the
same in all three, so converting is renaming. What differs and how it is handled:
- Vocabulary: genomamba's is 8 tokens (A C G T N <pad> <mask> <bos>). A source is converted only
  when its embedding has exactly that many rows (a different tokenizer cannot be remapped); one
  that records its alphabet (as our exports do) must record this one.
- RMSNorm eps: transformers' `layer_norm_epsilon` and mamba-ssm's default 1e-5 become `rms_norm_eps`.
- transformers keeps the residual in fp32 (`residual_in_fp32`); genomamba adds in the activation
  dtype, which is the same in fp32 (the precision conversion and tests use).
- Tied embeddings: `tie_word_embeddings` / `tie_embeddings` <-> `tie_embeddings`; a tied LM head is
  not stored twice.
- No conv bias (`use_conv_bias: false`) loads as a zero bias; in/out projection biases
  (`use_bias: true`), other activations, Mamba-2, attention layers or LayerNorm are refused; so is
  exporting a genomamba hybrid (`attn_layer_idx`): MambaForCausalLM has no attention layers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from genomamba import __version__
from genomamba.alphabet import BOS, PAD, TOKENS
from genomamba.errors import GenomambaError
from genomamba.models.config import MambaConfig
from genomamba.models.directory import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    read_model_config,
    read_weights,
    write_model_directory,
)
from genomamba.models.lm import MODEL_TYPE as CHAR_MAMBA
from genomamba.models.lm import CharMambaLM
from genomamba.pretrained import resolve_model_dir

__all__ = [
    "ConversionError", "convert", "detect_format", "from_hf_mamba", "from_mamba_ssm", "mamba_config_from_state",
    "rename_to_genomamba", "to_hf_mamba",
]

HF, MAMBA_SSM, GENOMAMBA = "transformers", "mamba_ssm", "genomamba"
_LAYER = re.compile(r"^backbone\.layers\.(\d+)\.(norm\.weight|mixer\..+)$")


class ConversionError(GenomambaError):
    """A checkpoint that cannot be converted (names the file and what does not fit)."""


def detect_format(path: str | Path) -> str:
    """"genomamba", "transformers" or "mamba_ssm", from the config.json of directory `path`."""
    path = Path(path)
    cfg = read_model_config(path)
    if cfg.get("model_type") == "mamba":
        return HF
    if "d_model" in cfg and "n_layer" in cfg and "model_type" not in cfg:
        return MAMBA_SSM
    if cfg.get("model_type", CHAR_MAMBA) == CHAR_MAMBA and isinstance(cfg.get("model"), dict):
        return GENOMAMBA
    raise ConversionError(
        f"{path / CONFIG_NAME}: model_type {cfg.get('model_type')!r} is not a genomamba char_mamba, a transformers "
        f"'mamba' or a mamba-ssm MambaLMHeadModel config"
    )


def read_source_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a transformers / mamba-ssm directory: model.safetensors, its sharded form
    (model.safetensors.index.json) or pytorch_model.bin (loaded weights-only: no pickled code)."""
    path = Path(path)
    if (path / WEIGHTS_NAME).is_file():
        return read_weights(path)
    index = path / "model.safetensors.index.json"
    if index.is_file():
        from safetensors.torch import load_file

        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return {k: v for s in shards for k, v in load_file(path / s, device="cpu").items()}
    binary = path / "pytorch_model.bin"
    if binary.is_file():
        try:
            state = torch.load(binary, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several types for a damaged or non-weights pickle
            raise ConversionError(f"{binary}: not a weights-only state dict ({str(e).splitlines()[0]})") from None
        return state.get("state_dict", state) if isinstance(state, dict) else state
    raise ConversionError(f"{path}: no {WEIGHTS_NAME}, model.safetensors.index.json or pytorch_model.bin")


def rename_to_genomamba(state: dict[str, torch.Tensor], source: str | Path) -> dict[str, torch.Tensor]:
    """transformers / mamba-ssm tensor names -> CharMambaLM's (a conv without bias gets a zero one)."""
    out = {}
    for name, t in state.items():
        if name in ("backbone.embeddings.weight", "backbone.embedding.weight"):
            out["embedding.weight"] = t
        elif name == "backbone.norm_f.weight" or name == "lm_head.weight":
            out[name.removeprefix("backbone.")] = t
        elif m := _LAYER.match(name):
            out[f"layers.{m[1]}.{m[2]}"] = t
        else:
            raise ConversionError(f"{source}: tensor {name!r} has no place in a CharMambaLM")
    for key in [k for k in out if k.endswith("mixer.conv1d.weight")]:
        out.setdefault(key.removesuffix("weight") + "bias", torch.zeros(out[key].shape[0], dtype=out[key].dtype))
    return out


def mamba_config_from_state(state: dict[str, torch.Tensor], source: str | Path, **overrides) -> MambaConfig:
    """The MambaConfig that the (genomamba-named) tensors' shapes imply; `overrides` set the rest
    (eps, dt init, tying). Raises ConversionError on a vocabulary other than genomamba's."""
    try:
        vocab, d_model = state["embedding.weight"].shape
        d_inner2 = state["layers.0.mixer.in_proj.weight"].shape[0]
        d_inner, d_state = state["layers.0.mixer.A_log"].shape
        d_conv = state["layers.0.mixer.conv1d.weight"].shape[-1]
        dt_rank = state["layers.0.mixer.dt_proj.weight"].shape[1]
    except KeyError as e:
        raise ConversionError(f"{source}: missing tensor {e.args[0]!r} of a Mamba LM") from None
    n_layer = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("layers."))
    expected = MambaConfig(
        d_model=d_model, **{k: v for k, v in overrides.items() if k in ("vocab_size", "pad_vocab_multiple")}
    ).vocab_size
    if vocab != expected:
        raise ConversionError(
            f"{source}: vocabulary of {vocab} tokens, but genomamba's is {expected} ({' '.join(TOKENS)}, padded); "
            f"a model with another tokenizer cannot be converted"
        )
    if d_inner2 != 2 * d_inner or d_inner % d_model:
        raise ConversionError(f"{source}: in_proj {d_inner2} rows and A_log {d_inner} rows do not fit d_model {d_model}")
    return MambaConfig(
        d_model=d_model, n_layer=n_layer, d_state=d_state, d_conv=d_conv, expand=d_inner // d_model,
        dt_rank=dt_rank, **overrides,
    )


def _build(state: dict[str, torch.Tensor], config: MambaConfig, source: str | Path) -> CharMambaLM:
    """A CharMambaLM holding `state` (shapes checked against `config`)."""
    from genomamba.models.base import tie_embedding_state
    from genomamba.models.directory import load_state

    model = CharMambaLM(config)
    if config.tie_embeddings:
        lm_head = state.pop("lm_head.weight", None)
        if lm_head is not None and not torch.equal(lm_head, state["embedding.weight"]):
            raise ConversionError(f"{source}: config ties the embeddings but lm_head.weight differs from the embedding")
    load_state(model, tie_embedding_state(model, state), source)
    return model.eval()


def _check_alphabet(recorded, source: Path) -> None:
    if recorded is not None and list(recorded) != TOKENS:
        raise ConversionError(f"{source}: alphabet {recorded} is not genomamba's {TOKENS}")


def from_hf_mamba(path: str | Path) -> CharMambaLM:
    """A CharMambaLM from a transformers `MambaForCausalLM` directory (config.json + weights)."""
    path = Path(path)
    cfg = read_model_config(path)
    file = path / CONFIG_NAME
    if cfg.get("use_bias"):
        raise ConversionError(f"{file}: use_bias true (in/out projection biases) has no place in a CharMambaLM")
    if cfg.get("hidden_act", "silu") != "silu":
        raise ConversionError(f"{file}: hidden_act {cfg['hidden_act']!r}; CharMambaLM's mixer uses silu")
    extra = cfg.get("genomamba") or {}
    _check_alphabet((extra.get("alphabet") or {}).get("tokens"), file)
    state = rename_to_genomamba(read_source_weights(path), path)
    tie = bool(cfg.get("tie_word_embeddings", True))
    # what shapes do not say, from our own export: the scan backend and a vocabulary padded wider
    base = {k: v for k, v in (extra.get("model") or {}).items() if k in ("scan_backend", "pad_vocab_multiple", "vocab_size")}
    config = mamba_config_from_state(
        state, path, rms_norm_eps=float(cfg.get("layer_norm_epsilon", 1e-5)), tie_embeddings=tie,
        dt_min=float(cfg.get("time_step_min", 0.001)), dt_max=float(cfg.get("time_step_max", 0.1)),
        dt_init_floor=float(cfg.get("time_step_floor", 1e-4)), **base,
    )
    model = _build(state, config, path)
    model.training_metadata = extra.get("training") or {"converted_from": HF, "source": str(path.resolve())}
    return model


def from_mamba_ssm(path: str | Path) -> CharMambaLM:
    """A CharMambaLM from a mamba-ssm `MambaLMHeadModel` directory (config.json + weights)."""
    path = Path(path)
    cfg = read_model_config(path)
    file = path / CONFIG_NAME
    layer = (cfg.get("ssm_cfg") or {}).get("layer", "Mamba1")
    if layer != "Mamba1":
        raise ConversionError(f"{file}: ssm_cfg.layer {layer!r}; only Mamba-1 (CharMambaLM's mixer) converts")
    if cfg.get("attn_layer_idx") or cfg.get("d_intermediate"):
        raise ConversionError(f"{file}: attention layers or MLPs (attn_layer_idx, d_intermediate) have no place in a CharMambaLM")
    if cfg.get("rms_norm", True) is False:
        raise ConversionError(f"{file}: rms_norm false (LayerNorm); CharMambaLM uses RMSNorm")
    state = rename_to_genomamba(read_source_weights(path), path)
    config = mamba_config_from_state(
        state, path, tie_embeddings=bool(cfg.get("tie_embeddings", True)),
        rms_norm_eps=float(cfg.get("norm_epsilon", 1e-5)),
    )
    model = _build(state, config, path)
    model.training_metadata = {"converted_from": MAMBA_SSM, "source": str(path.resolve())}
    return model


def to_hf_mamba(model: CharMambaLM, path: str | Path) -> Path:
    """Write `model` as a transformers `MambaForCausalLM` directory: config.json + model.safetensors.

    The genomamba config and alphabet go along under the "genomamba" key, so converting back
    gives the same model directory. Raises ConversionError for a bidirectional model (transformers
    has no bidirectional Mamba) and for a hybrid (MambaForCausalLM has no attention layers).
    """
    c = model.config
    if c.bidirectional:
        raise ConversionError(f"a bidirectional CharMambaLM has no transformers equivalent ({path} not written)")
    if c.attn_layer_idx:
        raise ConversionError(
            f"a hybrid CharMambaLM (attention at layers {c.attn_layer_idx}) has no transformers "
            f"MambaForCausalLM equivalent: it has no attention layers ({path} not written)"
        )
    config = {
        "architectures": ["MambaForCausalLM"], "model_type": "mamba",
        "vocab_size": c.vocab_size, "hidden_size": c.d_model, "state_size": c.d_state,
        "num_hidden_layers": c.n_layer, "layer_norm_epsilon": c.rms_norm_eps, "expand": c.expand,
        "conv_kernel": c.d_conv, "intermediate_size": c.d_inner, "use_bias": False, "use_conv_bias": True,
        "hidden_act": "silu", "residual_in_fp32": True, "time_step_rank": c.dt_rank,
        "time_step_min": c.dt_min, "time_step_max": c.dt_max, "time_step_floor": c.dt_init_floor,
        "tie_word_embeddings": c.tie_embeddings, "pad_token_id": PAD, "bos_token_id": BOS, "eos_token_id": None,
        "dtype": "float32",
        "genomamba": {
            "genomamba_version": __version__, "model": c.to_dict(), "alphabet": {"tokens": TOKENS},
            "training": getattr(model, "training_metadata", {}),
        },
    }
    tensors = {}
    for name, t in model.state_dict().items():
        if name == "embedding.weight":
            name = "backbone.embeddings.weight"
        elif name == "lm_head.weight":
            if c.tie_embeddings:
                continue  # transformers re-ties it on load
        else:
            name = "backbone." + name
        tensors[name] = t.detach().cpu().contiguous()
    return write_model_directory(path, config, tensors)


def convert(src: str | Path, dest: str | Path) -> tuple[str, str]:
    """Convert the model directory `src` into `dest`; the direction follows `src`'s format:
    genomamba -> transformers, transformers or mamba-ssm -> genomamba.

    Returns:
        (source format, destination format).

    Raises:
        GenomambaError: an unreadable source directory; ConversionError: one that does not fit.
    """
    src = resolve_model_dir(src)  # a shipped model's name converts like its directory
    fmt = detect_format(src)
    if fmt == GENOMAMBA:
        try:
            to_hf_mamba(CharMambaLM.from_pretrained(src), dest)
        except ConversionError as e:
            raise ConversionError(f"{src}: {e}") from None
        return fmt, HF
    model = from_hf_mamba(src) if fmt == HF else from_mamba_ssm(src)
    model.save_pretrained(dest, metadata=model.training_metadata)
    return fmt, GENOMAMBA
