"""What the character-level language models share: the forward over `hidden_states`, the parameter
count and the model directory (config.json + model.safetensors, the LM head tied on load).

A subclass sets `model_type` and `config_class`, and has `config`, `embedding`, `layers` (each
`layer(x, state, seq_idx) -> (x, state)`, or, with `layer.residual_stream` True, `layer(hidden,
residual, state, seq_idx) -> (hidden, residual, state)` over an fp32 residual stream that the final
`norm_f(hidden, residual)` adds in), `norm_f` and `lm_head`; the state is whatever its layers carry
(conv + SSM state for Mamba, a KV cache for the transformer).

Packed batches: `seq_idx` `[B, L]` int marks which sequence each position belongs to; every layer
restarts at a change (Mamba: conv and scan state; transformer: a block-diagonal causal mask), so a
sequence's logits are the same alone, padded or packed with others. A carried state belongs to the
sequence at position 0 (seq_idx[:, 0]).

Chunked inference: a model whose carried state is fixed in size (`_streams_fixed_state`: a causal
stack of Mamba blocks) runs a forward that needs no gradient and is longer than `inference_chunk_tokens`
(batch x length) chunk by chunk with the carried state: the same logits and hidden states (to float
rounding), packed rows (seq_idx) included, in the activation memory of one chunk rather than of the
whole input. The default, "auto", is the device's (`default_inference_chunk_tokens`);
GENOMAMBA_INFERENCE_CHUNK=N sets N everywhere (0 = one pass).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from genomamba import __version__
from genomamba.alphabet import TOKENS
from genomamba.device import resolve_device
from genomamba.models.directory import load_state, read_typed_config, read_weights, write_model_directory
from genomamba.models.state_tree import map_tensors
from genomamba.pretrained import resolve_model_dir

__all__ = ["CharLM", "default_inference_chunk_tokens", "tie_embedding_state"]

# tokens a chunk of chunked inference takes. A GPU wants long calls to fill its SMs (2^18: 0.26x the memory of
# one pass, BENCHMARKS.md 7d); a CPU is fastest on chunks whose activations stay small: at 2^13, 1.14-1.57x the
# speed of one pass over 65,536 tokens, whose fresh tensors are page-faulted in every call (BENCHMARKS.md §2)
_CHUNK_TOKENS = {"cuda": 1 << 18, "cpu": 1 << 13}
_CHUNK_ENV = os.environ.get("GENOMAMBA_INFERENCE_CHUNK")


def default_inference_chunk_tokens(device: torch.device) -> int:
    """Tokens a chunk of chunked inference takes on `device` (GENOMAMBA_INFERENCE_CHUNK if set; 0 = one pass)."""
    if _CHUNK_ENV is not None:
        return int(_CHUNK_ENV)
    return _CHUNK_TOKENS.get(device.type, _CHUNK_TOKENS["cuda"])


def _check_seq_idx(tokens: torch.Tensor, seq_idx: torch.Tensor | None) -> None:
    if seq_idx is not None and seq_idx.shape != tokens.shape:
        raise ValueError(f"seq_idx shape {tuple(seq_idx.shape)} != tokens shape {tuple(tokens.shape)}")


def _restart_rows(state, keep: torch.Tensor):
    """`state` with the rows where `keep` (bool `[B]`) is False zeroed: a new sequence starts there. A select, not
    a product (a non-finite state still restarts at exactly zero), and no check of `keep` on the host (on a GPU
    that would wait for the device at every chunk)."""
    return map_tensors(lambda t: torch.where(keep.view(-1, *([1] * (t.dim() - 1))), t, 0.0), state)


class CharLM(nn.Module):
    """Base of CharMambaLM and TransformerLM: tokens `[B, L]` -> logits `[B, L, vocab]`."""

    model_type: str
    config_class: type
    # the model_type assumed for a config.json without the key (directories older than the key)
    implicit_model_type: bool = False
    # scoring may pack short records into rows with seq_idx (`genomamba.scoring.likelihood`)
    packed_scoring: bool = True

    def hidden_states(self, tokens: torch.Tensor, state: list | None = None,
                      seq_idx: torch.Tensor | None = None) -> tuple[torch.Tensor, list]:
        """tokens `[B, L]` -> final-normed hidden `[B, L, d_model]` and the per-layer state after L;
        seq_idx `[B, L]` int: packed sequences (see the module docstring). Without gradients, a long
        input runs in chunks (chunked inference), the hidden states written into one tensor."""
        _check_seq_idx(tokens, seq_idx)
        chunk = self._inference_chunk_len(tokens)
        if not chunk:
            return self._hidden_pass(tokens, state, seq_idx)
        out = None
        for s, h, state in self._chunks(tokens, state, seq_idx, chunk):
            if out is None:
                out = h.new_empty(*tokens.shape, h.shape[-1])
            out[:, s:s + h.shape[1]] = h
        return out, state

    def _hidden_pass(self, tokens: torch.Tensor, state: list | None,
                     seq_idx: torch.Tensor | None) -> tuple[torch.Tensor, list]:
        """`hidden_states` in one pass over the layers."""
        hidden, residual = self.embedding(tokens.long()), None
        new_state = []
        for i, layer in enumerate(self.layers):
            s = state[i] if state is not None else None
            if getattr(layer, "residual_stream", False):  # ResidualBlock: the add is fused into the next norm
                hidden, residual, s = layer(hidden, residual, s, seq_idx)
            else:
                hidden, s = layer(hidden, s, seq_idx)
            new_state.append(s)
        return (self.norm_f(hidden) if residual is None else self.norm_f(hidden, residual)), new_state

    # a forward without gradients longer than this many tokens (batch x length) runs in chunks (see
    # the module docstring); "auto": the device's default; 0 or None: one pass
    inference_chunk_tokens: int | str | None = "auto"
    inference_chunk_min_len = 1024  # positions a chunk takes at least, however large the batch

    def forward(self, tokens: torch.Tensor, state: list | None = None, return_state: bool = False,
                seq_idx: torch.Tensor | None = None):
        """tokens `[B, L]` -> logits `[B, L, vocab]` (and the state to continue from, if asked);
        seq_idx `[B, L]` int: packed sequences."""
        _check_seq_idx(tokens, seq_idx)
        chunk = self._inference_chunk_len(tokens)
        if not chunk:
            h, new_state = self._hidden_pass(tokens, state, seq_idx)
            logits = self.lm_head(h)
        else:  # the logits of each chunk as it comes: no [B, L, d_model] hidden for the whole input
            logits = None
            for s, h, new_state in self._chunks(tokens, state, seq_idx, chunk):
                part = self.lm_head(h)
                if logits is None:
                    logits = part.new_empty(*tokens.shape, part.shape[-1])
                logits[:, s:s + part.shape[1]] = part
        return (logits, new_state) if return_state else logits

    @property
    def _streams_fixed_state(self) -> bool:
        """True when the carried state is fixed in size, so chunked inference bounds the memory."""
        return False

    def _inference_chunk_len(self, tokens: torch.Tensor) -> int | None:
        """Positions a chunk of chunked inference takes, or None for one pass."""
        n = self.inference_chunk_tokens
        if n == "auto":
            n = default_inference_chunk_tokens(tokens.device)
        if not n or torch.is_grad_enabled() or not self._streams_fixed_state:
            return None
        chunk = max(self.inference_chunk_min_len, n // max(1, tokens.shape[0]))
        return chunk if tokens.shape[1] > chunk else None

    def _chunks(self, tokens: torch.Tensor, state: list | None, seq_idx: torch.Tensor | None, chunk: int):
        """(first position, hidden, state after it) of each `chunk` positions in turn, the state carried. Packed
        rows: a row whose sequence changes at a chunk's first position starts that chunk from a zero state (the
        one-pass layers restart there too)."""
        for s in range(0, tokens.shape[1], chunk):
            part_idx = None
            if seq_idx is not None:
                part_idx = seq_idx[:, s:s + chunk]
                if s and state is not None:
                    state = _restart_rows(state, seq_idx[:, s] == seq_idx[:, s - 1])
            h, state = self._hidden_pass(tokens[:, s:s + chunk], state, part_idx)
            yield s, h, state

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def for_inference(self, dtype: torch.dtype = torch.bfloat16) -> CharLM:
        """This model in eval mode with its matmul weights (every nn.Linear and nn.Embedding weight,
        the tied LM head with them) cast to `dtype` once, in place: a forward without autocast then
        runs the matmuls in `dtype` with no per-call weight casts, and the logits come out in `dtype`.
        The rest stays fp32 (norms, A_log, D, the dt bias, the conv), as does the residual stream.
        For scoring, not training. Returns self."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.data = module.weight.data.to(dtype)
        return self.eval()

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
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu"):
        """Load a model directory written by `save_pretrained` (or `genomamba-train`), in eval mode.

        Raises:
            GenomambaError: a damaged directory (see `genomamba.models.directory`), naming the file.
            ConfigError: an unknown or invalid "model" key in config.json (names key and file).
        """
        path = resolve_model_dir(path)  # a directory, or the name of a shipped model
        default = cls.model_type if cls.implicit_model_type else None
        cfg, config = read_typed_config(path, cls.model_type, cls.config_class, default_type=default)
        model = cls(config)
        load_state(model, tie_embedding_state(model, read_weights(path)), path)
        model.training_metadata = cfg.get("training", {})
        return model.to(resolve_device(device)).eval()


def tie_embedding_state(model: CharLM, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` as saved, with the LM head re-tied to the embedding where the config ties them.

    `save_pretrained` drops the tied `lm_head.weight` (safetensors refuses shared storage).
    """
    state = dict(state)
    if model.config.tie_embeddings and "embedding.weight" in state:
        state["lm_head.weight"] = state["embedding.weight"]
    return state
