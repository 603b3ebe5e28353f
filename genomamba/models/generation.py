"""Sampling DNA from a causal language model: the prompt prefilled with the parallel forward, then
one token per step through a recurrent step, in memory that does not grow with the generated length.

The step is generic over a `CharLM`'s layers: each layer's `forward(x, state)` at L = 1 with the
carried state (a Mamba mixer state, the transformer's KV cache, or any other layer's), with a fast
path for Mamba blocks, `MambaMixer.step` (one fused Triton launch per layer on CUDA, states
updated in place) and, in a stack of Mamba blocks, the residual add fused with the next RMSNorm.
On CUDA by default (`fused=False` or GENOMAMBA_FUSED_DECODE=0 turn it off): the residual add, the next
RMSNorm and the next linear layer (in_proj, or the LM head) as one op (`genomamba.ops.add_norm_linear`;
the embedding lookup joins the first, the sampling of the next base the last), so a step is three
launches per layer: that op, the mixer interior and out_proj. When every layer is a Mamba block the
state has a fixed size, so on CUDA
`steps_per_graph` steps (sampling included) are captured once as a CUDA graph and replayed per
chunk: no Python and no host sync per token. Elsewhere (the CPU, a transformer whose KV cache
grows, a MarkovLM) the same chunk runs as a plain PyTorch loop.

Only the four bases A, C, G, T are sampled: N (unknown base) and the specials (pad, mask, bos) are
not sequence a model should write, so their logits are ignored. Sampling draws one uniform per row
and step from a `torch.Generator`, so a seed reproduces a run on the same device and settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genomamba.alphabet import VOCAB_SIZE, decode, encode
from genomamba.errors import GenomambaError
from genomamba.models.base import CharLM
from genomamba.models.markov import MarkovLM
from genomamba.models.state_tree import map_tensors, tensor_leaves
from genomamba.modules import MambaMixer, ResidualBlock, RMSNorm
from genomamba.ops import add_norm_linear, add_rms_norm
from genomamba.ops.decode import NUCLEOTIDES, fused_decode_enabled, sample_next

__all__ = ["NUCLEOTIDES", "Decoder", "Sampling", "check_generative", "generate", "sample_next"]

PREFILL_CHUNK = 1 << 16  # prompt bases per parallel forward


@dataclass(frozen=True)
class Sampling:
    """How the next base is drawn from the logits over A, C, G, T.

    temperature: 0 is greedy (argmax); else softmax(logits / temperature). top_k: keep the k most
    likely bases (0: all). top_p: keep the most likely bases until their probability reaches p
    (nucleus sampling; 1: all). Top-k is applied before top-p, as in mamba-ssm and transformers.
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature) and self.temperature >= 0):
            raise GenomambaError(f"temperature must be a finite number >= 0, got {self.temperature!r}")
        if not isinstance(self.top_k, int) or not 0 <= self.top_k <= NUCLEOTIDES:
            raise GenomambaError(f"top_k must be an integer in 0..{NUCLEOTIDES} (0: off), got {self.top_k!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise GenomambaError(f"top_p must be in (0, 1] (1: off), got {self.top_p!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def _fast_block(layer) -> bool:
    return isinstance(layer, ResidualBlock) and isinstance(layer.mixer, MambaMixer)


def _plain_weights(model) -> bool:
    """The embedding, every in_proj and the LM head are plain nn.Embedding / nn.Linear (not INT8 or
    RCPS modules), so the fused step can read their weights."""
    return (type(model.embedding) is nn.Embedding and model.embedding.max_norm is None
            and all(type(m) is nn.Linear for m in [layer.mixer.in_proj for layer in model.layers] + [model.lm_head]))


def check_generative(model, source: str = "model") -> None:
    """Raise GenomambaError (naming `source`) unless `model` is a causal language model."""
    if not isinstance(model, (CharLM, MarkovLM)):
        raise GenomambaError(f"{source}: generation needs a language model (char_mamba, transformer, markov), "
                             f"not a {type(model).__name__}")
    if not getattr(model, "is_causal", True):
        raise GenomambaError(f"{source}: cannot generate with a bidirectional (masked) model: it predicts each base "
                             "from both sides, not the next one; use a causal model")


class Decoder:
    """Generation engine for one model, batch size and `Sampling`: static buffers (the state, the
    logits, the noise and the tokens of one chunk) and, on CUDA with a fixed-size state, the
    captured graph of `steps_per_graph` steps. Reuse it across prompts of one batch size.

    Args:
        model: a causal CharLM (CharMambaLM, TransformerLM, ...) or a MarkovLM, in eval mode.
        batch_size: rows generated together (samples of one prompt).
        cuda_graph: None: on CUDA when every layer is a Mamba block; False: the plain loop.
        fused: the fused step of a Mamba stack (`genomamba.ops.add_norm_linear`) where the model
            allows it (plain Linear and Embedding weights); None: the default (on CUDA, unless
            GENOMAMBA_FUSED_DECODE=0 or `genomamba.ops.decode.set_fused_decode(False)`; on the
            CPU the unfused step, which is the same ops there); False: the unfused step.
    """

    @torch.inference_mode()
    def __init__(self, model, batch_size: int, sampling: Sampling = Sampling(), steps_per_graph: int = 32,
                 cuda_graph: bool | None = None, fused: bool | None = None):
        check_generative(model)
        if batch_size < 1 or steps_per_graph < 1:
            raise GenomambaError(f"batch_size and steps_per_graph must be >= 1, got {batch_size}, {steps_per_graph}")
        self.model, self.batch_size, self.sampling, self.steps = model, batch_size, sampling, steps_per_graph
        param = next(iter(model.parameters()), None)
        self.device = param.device if param is not None else model.log_probs.device
        # every layer a Mamba block: a fixed-size state, and the fused step (`_mamba_stack_step`)
        self.fixed_state = (isinstance(model, CharLM) and all(_fast_block(layer) for layer in model.layers)
                            and isinstance(model.norm_f, RMSNorm))
        if fused is None:
            fused = fused_decode_enabled() and self.device.type == "cuda"
        self.fused = self.fixed_state and fused and _plain_weights(model)
        if cuda_graph is None:
            cuda_graph = self.device.type == "cuda" and self.fixed_state
        if cuda_graph and not (self.device.type == "cuda" and self.fixed_state):
            raise GenomambaError("cuda_graph needs a CUDA model whose layers are all Mamba blocks (a fixed-size state)")
        vocab = model.lm_head.out_features if isinstance(model, CharLM) else VOCAB_SIZE
        self.logits = torch.zeros(batch_size, vocab, device=self.device)
        self.noise = torch.zeros(steps_per_graph, batch_size, device=self.device)
        self.tokens = torch.zeros(steps_per_graph, batch_size, dtype=torch.uint8, device=self.device)
        self.state = None
        if self.fixed_state:
            dtype = param.dtype
            self.state = [layer.mixer.allocate_state(batch_size, self.device, dtype) for layer in model.layers]
        self.graph = None
        if cuda_graph:
            self._capture()

    def _capture(self) -> None:
        """Warm up (compiles the kernels) on a side stream, then capture one chunk. The warm-up's
        writes to the state are overwritten by the next prefill."""
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            self._chunk()
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._chunk()

    def step(self, tok: torch.Tensor) -> torch.Tensor:
        """Tokens `[B]` at the next position -> logits `[B, V]` (those of the parallel forward at that
        position); the state advances by one (in place for Mamba blocks). Call after `prefill`, under
        inference_mode."""
        model = self.model
        if self.fixed_state:
            return self._mamba_stack_step(tok)
        if not isinstance(model, CharLM):
            logits, self.state = model(tok[:, None], self.state, return_state=True)
            return logits[:, 0]
        hidden, residual = model.embedding(tok), None
        for i, layer in enumerate(model.layers):
            if getattr(layer, "residual_stream", False):  # a ResidualBlock: the fp32 stream as in hidden_states
                normed, residual = layer.norm(hidden, residual, prenorm=True)
                if _fast_block(layer):
                    hidden = layer.mixer.step(normed, self.state[i])
                else:
                    y, self.state[i] = layer.mixer(normed[:, None], self.state[i])
                    hidden = y[:, 0]
            else:  # a block of its own (the transformer's): x -> x
                y, self.state[i] = layer(hidden[:, None], self.state[i])
                hidden = y[:, 0]
        return model.lm_head(model.norm_f(hidden) if residual is None else model.norm_f(hidden, residual))

    def _mamba_stack_step(self, tok: torch.Tensor) -> torch.Tensor:
        """`step` for a stack of Mamba blocks. Fused: the embedding, the first norm and in_proj as
        one op, then per layer the mixer interior and out_proj, and the residual add + the next
        norm + the next in_proj (or norm_f + the LM head) as one op: three launches per layer on
        Triton. Unfused: the embedding, then per layer in_proj, the interior, out_proj and the add
        + next norm, then the LM head."""
        model = self.model
        if self.fused:
            return self._fused_step(tok)
        first = model.layers[0].norm
        h, res = add_rms_norm(model.embedding(tok), None, first.weight, first.eps, prenorm=True)
        next_norms = [layer.norm for layer in model.layers[1:]] + [model.norm_f]
        for layer, state, norm in zip(model.layers, self.state, next_norms):
            h, res = add_rms_norm(layer.mixer.step(h, state), res, norm.weight, norm.eps, prenorm=True)
        return model.lm_head(h)

    def _fused_step(self, tok: torch.Tensor, noise: torch.Tensor | None = None,
                    tokens_out: torch.Tensor | None = None) -> torch.Tensor:
        """The fused `_mamba_stack_step`; with `noise`, the LM head's op also draws the next tokens
        (`sample_next`) into `tokens_out`, so sampling is no launch of its own."""
        model = self.model
        first = model.layers[0]
        xz, res = add_norm_linear(None, None, first.norm.weight, first.norm.eps, first.mixer.in_proj.weight,
                                  first.mixer.in_proj.bias, tokens=tok, embedding=model.embedding.weight,
                                  backend=first.mixer.scan_backend)
        last = len(model.layers) - 1
        head = {} if noise is None else {"sampling": self.sampling, "noise": noise, "tokens_out": tokens_out}
        nexts = [(layer.norm, layer.mixer.in_proj) for layer in model.layers[1:]] + [(model.norm_f, model.lm_head)]
        for i, (layer, state, (norm, linear)) in enumerate(zip(model.layers, self.state, nexts)):
            xz, res = add_norm_linear(layer.mixer.step_xz(xz, state), res, norm.weight, norm.eps, linear.weight,
                                      linear.bias, **(head if i == last else {}), backend=layer.mixer.scan_backend)
        return xz

    def _chunk(self) -> None:
        """`steps_per_graph` steps: sample from the current logits, record the token, step (fused:
        each step's LM head samples the next step's token)."""
        logits = self.logits
        if self.fused:
            self.tokens[0].copy_(sample_next(logits, self.noise[0], self.sampling))
            for s in range(self.steps):
                nxt = s + 1 < self.steps
                logits = self._fused_step(self.tokens[s], self.noise[s + 1] if nxt else None,
                                          self.tokens[s + 1] if nxt else None)
            self.logits.copy_(logits)
            return
        for s in range(self.steps):
            tok = sample_next(logits, self.noise[s], self.sampling)
            self.tokens[s].copy_(tok)
            logits = self.step(tok)
        self.logits.copy_(logits)

    def prefill(self, prompt: torch.Tensor) -> None:
        """Run the prompt `[L]` through the parallel forward, `PREFILL_CHUNK` bases per call with the
        state carried (a chromosome-long prompt fits); set the state and the last logits (`self.logits`).
        Call under inference_mode."""
        rows = 1 if self.fixed_state else self.batch_size  # a fixed state: one row, broadcast below
        state = None
        for start in range(0, prompt.numel(), PREFILL_CHUNK):
            chunk = prompt[start:start + PREFILL_CHUNK][None].expand(rows, -1)
            logits, state = self.model(chunk, state, return_state=True)
        if self.fixed_state:
            for d, s in zip(tensor_leaves(self.state), tensor_leaves(state)):
                d.copy_(s)
        elif isinstance(self.model, CharLM):  # Mamba blocks among other layers step in place: own their buffers
            self.state = [map_tensors(torch.Tensor.contiguous, s) if _fast_block(layer) else s
                          for layer, s in zip(self.model.layers, state)]
        else:
            self.state = state
        self.logits.copy_(logits[:, -1])

    @torch.inference_mode()
    def generate(self, prompt: torch.Tensor | np.ndarray, length: int, generator: torch.Generator | None = None) -> np.ndarray:
        """`length` tokens after `prompt` (`[L]` tokens, L >= 1) for each of the batch rows.

        Returns:
            uint8 tokens `[batch_size, length]` (values 0-3: A C G T).
        """
        prompt = torch.as_tensor(prompt).to(self.device).long().reshape(-1)
        if prompt.numel() == 0:
            raise GenomambaError("the prompt is empty: give at least one base")
        if length < 1:
            raise GenomambaError(f"length must be >= 1, got {length}")
        self.prefill(prompt)
        n_chunks = -(-length // self.steps)
        out = torch.empty(n_chunks * self.steps, self.batch_size, dtype=torch.uint8,
                          pin_memory=self.device.type == "cuda")
        for c in range(n_chunks):
            if not self.sampling.greedy:
                self.noise.uniform_(generator=generator)
            if self.graph is not None:
                self.graph.replay()
            else:
                self._chunk()
            out[c * self.steps:(c + 1) * self.steps].copy_(self.tokens, non_blocking=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return out[:length].T.numpy()


def _decoder(model, batch_size: int, sampling: Sampling, steps_per_graph: int, cuda_graph: bool | None) -> Decoder:
    """The model's last Decoder when it has the same settings (a captured graph is reused), else a new one."""
    key = (batch_size, sampling, steps_per_graph, cuda_graph, fused_decode_enabled())
    cached = getattr(model, "_genomamba_decoder", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    decoder = Decoder(model, batch_size, sampling, steps_per_graph, cuda_graph)
    model._genomamba_decoder = (key, decoder)
    return decoder


def generate(
    model, prompt: str | np.ndarray, length: int, *, num_samples: int = 1, temperature: float = 1.0, top_k: int = 0,
    top_p: float = 1.0, seed: int | None = None, device: str | torch.device = "auto", steps_per_graph: int = 32,
    cuda_graph: bool | None = None,
) -> list[str]:
    """`num_samples` sequences of `length` bases continuing `prompt`, as `genomamba-generate` writes them.

    Args:
        model: a loaded causal model or a model directory path (loaded onto `device`).
        prompt: the bases to continue (A C G T N, any case; IUPAC codes read as N), or their
            tokens (`genomamba.alphabet.encode`).
        temperature, top_k, top_p: see `Sampling`. seed: reproduces a run on the same device
            (None: a fresh random seed).
        steps_per_graph: tokens per CUDA graph replay (and per chunk of the plain loop).

    Returns:
        One upper-case string of A, C, G, T per sample (the prompt not included).

    Raises:
        GenomambaError: a bidirectional or non-language model, an empty prompt, bad settings.
    """
    from genomamba.models.loading import load_model

    if isinstance(model, (str, Path)):
        model = load_model(model, device=device)
    if num_samples < 1:
        raise GenomambaError(f"num_samples must be >= 1, got {num_samples}")
    decoder = _decoder(model.eval(), num_samples, Sampling(temperature, top_k, top_p), steps_per_graph, cuda_graph)
    generator = torch.Generator(device=decoder.device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    if isinstance(prompt, str):
        prompt = encode(prompt, source="<prompt>")
    tokens = decoder.generate(prompt, length, generator)
    return [decode(row) for row in tokens]
