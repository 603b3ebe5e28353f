"""Typed, self-validating model configuration (litgpt-style `__post_init__`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from genomamba.alphabet import VOCAB_SIZE
from genomamba.errors import ConfigError

SCAN_BACKENDS = ("auto", "ref", "torch", "triton", "mamba_ssm")


@dataclass
class MambaConfig:
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
        self.vocab_size = -(-self.vocab_size // self.pad_vocab_multiple) * self.pad_vocab_multiple
        if self.dt_rank is None:
            self.dt_rank = math.ceil(self.d_model / 16)
        self.d_inner = self.expand * self.d_model

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    @classmethod
    def from_dict(cls, d: dict) -> "MambaConfig":
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = set(d) - known - {"d_inner"}
        if unknown:
            raise ConfigError(f"unknown MambaConfig keys: {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in known})
