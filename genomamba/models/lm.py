"""CharMambaLM: a character-level Mamba language model over DNA.

Token embedding -> n_layer pre-norm Mamba blocks -> final RMSNorm -> LM head tied to the
embedding (as in mamba_ssm's MambaLMHeadModel). Saved as a model directory: config.json
(model config, alphabet, training metadata) + model.safetensors; loads on a CPU without Triton.
A per-layer state can be carried across calls, so long sequences are scored chunk by chunk.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from genomamba import __version__
from genomamba.alphabet import TOKENS
from genomamba.device import resolve_device
from genomamba.models.config import MambaConfig
from genomamba.models.directory import (
    load_state,
    read_typed_config,
    read_weights,
    write_model_directory,
)
from genomamba.modules import (
    BiMambaMixer,
    MambaMixer,
    MixerState,
    ResidualBlock,
    RMSNorm,
)

MODEL_TYPE = "char_mamba"


class CharMambaLM(nn.Module):
    """tokens `[B, L]` (int) -> logits `[B, L, vocab]`. Causal (default): logits at t predict token
    t+1. Bidirectional (`config.bidirectional`): logits at t predict token t itself (masked LM)."""

    model_type = MODEL_TYPE

    def __init__(self, config: MambaConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        mixer = BiMambaMixer if config.bidirectional else MambaMixer
        self.layers = nn.ModuleList(
            ResidualBlock(mixer(config), config.rms_norm_eps)
            for _ in range(config.n_layer)
        )
        self.norm_f = RMSNorm(config.d_model, config.rms_norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        if config.tie_embeddings:
            self.lm_head.weight = self.embedding.weight

    def _init_weights(self, module: nn.Module) -> None:
        """GPT-2/Mamba init: N(0, 0.02) embeddings, out_proj scaled by 1/sqrt(n_layer)."""
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        elif isinstance(module, MambaMixer):
            nn.init.kaiming_uniform_(module.out_proj.weight, a=math.sqrt(5))
            with torch.no_grad():
                module.out_proj.weight /= math.sqrt(self.config.n_layer)

    @property
    def is_causal(self) -> bool:
        """True when logits at t depend only on tokens <= t (so they predict token t+1)."""
        return not self.config.bidirectional

    def hidden_states(
        self, tokens: torch.Tensor, state: list[MixerState] | None = None
    ) -> tuple[torch.Tensor, list[MixerState]]:
        """tokens `[B, L]` -> final-normed hidden `[B, L, d_model]` and the per-layer state after L."""
        x = self.embedding(tokens.long())
        new_state = []
        for i, layer in enumerate(self.layers):
            x, s = layer(x, state[i] if state is not None else None)
            new_state.append(s)
        return self.norm_f(x), new_state

    def forward(
        self, tokens: torch.Tensor, state: list[MixerState] | None = None, return_state: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[MixerState]]:
        """tokens `[B, L]` -> logits `[B, L, vocab]` (and the state to continue from, if asked)."""
        h, new_state = self.hidden_states(tokens, state)
        logits = self.lm_head(h)
        return (logits, new_state) if return_state else logits

    def allocate_state(self, batch: int, device=None) -> list[MixerState]:
        return [layer.mixer.allocate_state(batch, device) for layer in self.layers]

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- model directory ----
    def save_pretrained(self, path: str | Path, metadata: dict | None = None) -> Path:
        """Write config.json + model.safetensors into `path` (created), each atomically."""
        cfg = {
            "model_type": self.model_type,
            "genomamba_version": __version__,
            "model": self.config.to_dict(),
            "alphabet": {"tokens": TOKENS},
            "training": metadata or {},
        }
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        if self.config.tie_embeddings:
            state.pop("lm_head.weight", None)  # safetensors refuses shared storage; re-tied on load
        return write_model_directory(path, cfg, state)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu") -> CharMambaLM:
        """Load a model directory written by `save_pretrained` (or `genomamba-train`), in eval mode.

        Raises:
            GenomambaError: a damaged directory (see `genomamba.models.directory`), naming the file.
            ConfigError: an unknown or invalid "model" key in config.json (names key and file).
        """
        path = Path(path)
        cfg, config = read_typed_config(path, MODEL_TYPE, MambaConfig, default_type=MODEL_TYPE)
        model = cls(config)
        load_state(model, tie_embedding_state(model, read_weights(path)), path)
        model.training_metadata = cfg.get("training", {})
        return model.to(resolve_device(device)).eval()


def tie_embedding_state(model: CharMambaLM, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` as saved, with the LM head re-tied to the embedding where the config ties them.

    `save_pretrained` drops the tied `lm_head.weight` (safetensors refuses shared storage).
    """
    state = dict(state)
    if model.config.tie_embeddings and "embedding.weight" in state:
        state["lm_head.weight"] = state["embedding.weight"]
    return state
