"""Typed, self-validating model configuration (litgpt-style `__post_init__`), and the one dict
round-trip (`ConfigDictMixin`) that MambaConfig, HeadConfig and MarkovConfig share."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from genomamba.alphabet import VOCAB_SIZE
from genomamba.errors import ConfigError

SCAN_BACKENDS = ("auto", "ref", "torch", "numba", "triton", "mamba_ssm")
_Config = TypeVar("_Config", bound="ConfigDictMixin")


class ConfigDictMixin:
    """`to_dict` / `from_dict` for a config dataclass: the init fields, as JSON-ready values.

    Derived fields (`field(init=False)`) are not written; `from_dict` accepts and drops them, so
    a dict written by an older version that stored them still loads.
    """

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    @classmethod
    def from_dict(cls: type[_Config], d: dict[str, Any], source: str | Path | None = None) -> _Config:
        """Build and validate a config from `d`.

        Args:
            d: the config's fields, e.g. the "model" section of a config.json.
            source: the file `d` came from, named in errors.

        Raises:
            ConfigError: `d` is not a dict, has an unknown key, or a value `__post_init__` rejects
                (names the key, and the file when `source` is given).
        """
        where = f"{source}: " if source is not None else ""
        if not isinstance(d, dict):
            raise ConfigError(f"{where}{cls.__name__} must be a JSON object of fields, got {type(d).__name__}")
        fields = dataclasses.fields(cls)
        known = {f.name for f in fields if f.init}
        unknown = sorted(set(d) - known - {f.name for f in fields if not f.init})
        if unknown:
            raise ConfigError(f"{where}unknown {cls.__name__} keys: {unknown} (known: {', '.join(sorted(known))})")
        for f in fields:
            if f.name in d and not _has_type(d[f.name], str(f.type)):
                raise ConfigError(f"{where}{cls.__name__}.{f.name} must be {f.type}, got {d[f.name]!r}")
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except ConfigError as e:
            raise ConfigError(f"{where}{e}") from None


# JSON values each scalar annotation accepts (a bool is not a number here, though Python says it is)
_JSON_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _has_type(value: Any, annotation: str) -> bool:
    """Whether a JSON `value` fits a field annotated `annotation` (scalars and `X | None`; other
    annotations are left to `__post_init__`)."""
    options = [a.strip() for a in annotation.split("|")]
    if value is None:
        return "None" in options
    if any(a not in _JSON_TYPES and a != "None" for a in options):
        return True
    return any(isinstance(value, _JSON_TYPES[a]) and (a == "bool" or not isinstance(value, bool))
               for a in options if a != "None")


@dataclass
class MambaConfig(ConfigDictMixin):
    """Shape and init of a CharMambaLM. Derived fields are filled in `__post_init__`."""

    d_model: int = 128
    n_layer: int = 4
    d_state: int = 16  # N, the SSM state per channel
    d_conv: int = 4
    expand: int = 2  # d_inner = expand * d_model
    dt_rank: int | None = None  # None -> ceil(d_model / 16), Mamba's default
    dt_min: float = 0.001
    dt_max: float = 0.1
    dt_init_floor: float = 1e-4
    vocab_size: int = VOCAB_SIZE  # padded up to a multiple of pad_vocab_multiple
    pad_vocab_multiple: int = 8
    rms_norm_eps: float = 1e-5
    tie_embeddings: bool = True
    # both directions in every layer (BiMamba): a masked-LM encoder, not a causal LM
    bidirectional: bool = False
    # reverse-complement parameter sharing (Caduceus-PS): logits(rc(x)) = rc(logits(x)) exactly;
    # bidirectional only, each strand gets d_model / 2 channels of the same weights
    rc_equivariant: bool = False
    # hybrid (as mamba-ssm's attn_layer_idx): these layers are causal self-attention with RoPE
    # instead of Mamba, in the same pre-norm residual block; e.g. [3, 7] of 8 layers
    attn_layer_idx: list[int] = field(default_factory=list)
    attn_num_heads: int = 4  # head_dim = d_model / attn_num_heads, even (RoPE)
    # None: full causal attention (the KV cache grows with the sequence when streaming); W: each
    # position attends to the last W positions, and the cache keeps W - 1 per attention layer
    attn_window: int | None = None
    attn_rope_base: float = 10000.0
    scan_backend: str = "auto"
    d_inner: int = field(init=False)

    def __post_init__(self) -> None:
        for key in ("d_model", "n_layer", "d_state", "d_conv", "expand", "vocab_size", "pad_vocab_multiple"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"MambaConfig.{key} must be a positive integer, got {value!r}")
        if self.d_conv < 2:
            raise ConfigError(f"MambaConfig.d_conv must be >= 2, got {self.d_conv}")
        if not 0 < self.dt_min <= self.dt_max:
            raise ConfigError(f"MambaConfig.dt_min/dt_max need 0 < dt_min <= dt_max, got {self.dt_min}, {self.dt_max}")
        if self.scan_backend not in SCAN_BACKENDS:
            raise ConfigError(f"MambaConfig.scan_backend must be one of {SCAN_BACKENDS}, got {self.scan_backend!r}")
        if self.vocab_size < VOCAB_SIZE:
            raise ConfigError(f"MambaConfig.vocab_size must be >= {VOCAB_SIZE} (the alphabet), got {self.vocab_size}")
        if self.rc_equivariant and not self.bidirectional:
            raise ConfigError("MambaConfig.rc_equivariant needs bidirectional=true (for a causal model, score --both-strands)")
        if self.rc_equivariant and self.d_model % 2:
            raise ConfigError(f"MambaConfig.d_model must be even with rc_equivariant (two strands), got {self.d_model}")
        self._check_attention()
        self.vocab_size = -(-self.vocab_size // self.pad_vocab_multiple) * self.pad_vocab_multiple
        if self.dt_rank is None:
            self.dt_rank = math.ceil(self.d_model / 16)
        self.d_inner = self.expand * self.d_model

    def _check_attention(self) -> None:
        """Validate the hybrid's attention fields; `attn_layer_idx` becomes a sorted list of ints."""
        idx = self.attn_layer_idx
        if isinstance(idx, (str, bytes)) or not isinstance(idx, Sequence) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < self.n_layer for i in idx
        ) or len(set(idx)) != len(idx):
            raise ConfigError(
                f"MambaConfig.attn_layer_idx must be a list of distinct layer indices in [0, {self.n_layer}), got {idx!r}"
            )
        self.attn_layer_idx = sorted(int(i) for i in idx)
        heads = self.attn_num_heads
        if not isinstance(heads, int) or isinstance(heads, bool) or heads < 1:
            raise ConfigError(f"MambaConfig.attn_num_heads must be a positive integer, got {heads!r}")
        if idx and (self.d_model % heads or (self.d_model // heads) % 2):
            raise ConfigError(
                f"MambaConfig.d_model ({self.d_model}) must be attn_num_heads ({heads}) times an even head_dim (RoPE)"
            )
        w = self.attn_window
        if w is not None and (not isinstance(w, int) or isinstance(w, bool) or w < 1):
            raise ConfigError(f"MambaConfig.attn_window must be a positive integer or null, got {w!r}")
        if not self.attn_rope_base > 1:
            raise ConfigError(f"MambaConfig.attn_rope_base must be > 1, got {self.attn_rope_base!r}")
        if idx and self.bidirectional:
            raise ConfigError(
                "MambaConfig.attn_layer_idx needs a causal model: the hybrid's attention is causal "
                "(bidirectional=true takes no attention layers)"
            )
