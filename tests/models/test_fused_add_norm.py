"""The block stack over an fp32 residual stream (each add fused into the next RMSNorm) computes what
x + mixer(norm(x)) block after block did: the same logits, gradients and carried state on the CPU,
the same parameter names in a model directory; through the Triton kernels (the interpreter here)
it agrees with the unfused reference. `CharLM.for_inference` (bf16 matmul weights) stays close to
the fp32 model."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import genomamba as gm
from genomamba.models import CharMambaLM, MambaConfig
from genomamba.models.transformer import TransformerConfig, TransformerLM
from genomamba.modules.rcps import RCPSResidualBlock, _per_strand
from genomamba.ops.add_norm import set_fused_add_norm
from genomamba.ops.selective_scan import set_backend_override

KINDS = {
    "causal": {},
    "bidirectional": {"bidirectional": True},
    "rc_equivariant": {"bidirectional": True, "rc_equivariant": True},
}


def _model(n_layer: int = 2, **kw) -> CharMambaLM:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=n_layer, d_state=4, **kw))


def _unfused(model: CharMambaLM, tokens: torch.Tensor, state: list | None = None):
    """Logits and state by the math before the fusion: x = x + mixer(norm(x)), then norm_f(x)."""
    x, new_state = model.embedding(tokens), []
    for i, layer in enumerate(model.layers):
        s = state[i] if state is not None else None
        if isinstance(layer, RCPSResidualBlock):
            x = _per_strand(lambda h, blk=layer: h + blk.mixer(blk.norm(h))[0], x)
        else:
            out, s = layer.mixer(layer.norm(x), s)
            x = x + out
        new_state.append(s)
    return model.lm_head(model.norm_f(x)), new_state


@pytest.mark.parametrize("kind", list(KINDS))
def test_logits_and_gradients_match_the_unfused_math(kind):
    model = _model(**KINDS[kind])
    tokens = torch.randint(0, 5, (2, 37))
    got = model(tokens)
    want, _ = _unfused(model, tokens)
    assert torch.equal(got, want), f"max abs diff {(got - want).abs().max().item():.3e}"
    dy = torch.randn(got.shape)
    params = list(model.parameters())
    grads = torch.autograd.grad((got * dy).sum(), params)
    grads_ref = torch.autograd.grad((want * dy).sum(), params)
    for (name, _), a, b in zip(model.named_parameters(), grads, grads_ref):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7), f"d{name}: max abs diff {(a - b).abs().max().item():.3e}"


def test_chunks_with_carried_state_match_the_unfused_math():
    model = _model().eval()
    tokens = torch.randint(0, 5, (2, 41))
    with torch.no_grad():
        a, state = model(tokens[:, :17], return_state=True)
        b, state = model(tokens[:, 17:], state, return_state=True)
        a_ref, state_ref = _unfused(model, tokens[:, :17])
        b_ref, state_ref = _unfused(model, tokens[:, 17:], state_ref)
    assert torch.equal(a, a_ref) and torch.equal(b, b_ref)
    for s, s_ref in zip(state, state_ref):
        assert torch.equal(s.conv, s_ref.conv) and torch.equal(s.ssm, s_ref.ssm)


def test_model_directory_keeps_its_parameter_names_and_logits(tmp_path):
    model = _model(n_layer=1).eval()
    mixer = ["in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight", "dt_proj.bias",
             "out_proj.weight", "A_log", "D"]
    assert set(model.state_dict()) == {"embedding.weight", "layers.0.norm.weight", "norm_f.weight", "lm_head.weight",
                                       *(f"layers.0.mixer.{k}" for k in mixer)}
    loaded = CharMambaLM.from_pretrained(model.save_pretrained(tmp_path / "m"))
    tokens = torch.randint(0, 5, (1, 29))
    with torch.no_grad():
        assert torch.equal(loaded(tokens), _unfused(model, tokens)[0])


@pytest.mark.parametrize("kind", ["causal", "bidirectional"])
def test_fused_add_norm_kernel_in_the_model_matches_the_reference(kind):
    """The add-norm through its Triton kernel (the interpreter on a CPU; the mixers on the torch path)
    against the reference: logits and every parameter gradient agree."""
    pytest.importorskip("triton")
    dev = "cuda" if torch.cuda.is_available() else "cpu"  # compiled on a GPU, the interpreter elsewhere
    model = _model(**KINDS[kind], scan_backend="torch").to(dev)
    tokens = torch.randint(0, 5, (2, 23), device=dev)
    runs = []
    try:
        set_backend_override("triton")
        for fused in (True, False):
            set_fused_add_norm(fused)
            logits = model(tokens)
            runs.append((logits, torch.autograd.grad(logits.square().sum(), list(model.parameters()))))
    finally:
        set_backend_override(None)
        set_fused_add_norm(True)
    (got, grads), (want, grads_ref) = runs
    assert (got - want).abs().max().item() <= 1e-5 * max(want.abs().max().item(), 1.0)
    for (name, _), a, b in zip(model.named_parameters(), grads, grads_ref):
        err = (a - b).abs().max().item()
        assert err <= 1e-4 * max(b.abs().max().item(), 1.0), f"d{name}: max abs err {err:.3e}"


def test_fused_add_norm_env_var_is_read_once_at_import():
    code = "import genomamba.ops.add_norm as a; print(a._fused)"
    env = {**os.environ, "GENOMAMBA_FUSED_ADD_NORM": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _bf16_gap(model, tokens, backend: str | None = None) -> tuple[float, float]:
    """(max |bf16-inference logits - fp32 logits|, max |fp32 logits|)."""
    model = model.eval()
    bf16 = copy.deepcopy(model).for_inference(torch.bfloat16)
    try:
        set_backend_override(backend)
        with torch.inference_mode():
            want, got = model(tokens), bf16(tokens)
    finally:
        set_backend_override(None)
    assert got.dtype == torch.bfloat16
    return (got.float() - want).abs().max().item(), want.abs().max().item()


@pytest.mark.parametrize("kind", list(KINDS))
def test_bf16_inference_logits_are_close_to_fp32(kind):
    err, scale = _bf16_gap(_model(**KINDS[kind]), torch.randint(0, 5, (2, 64)))
    assert 0 < err <= 3e-2 * max(scale, 1.0)


def test_bf16_inference_through_the_triton_kernels():
    """bf16 matmul weights go into the fused mixer and add-norm as they are (the interpreter here)."""
    pytest.importorskip("triton")
    dev = "cuda" if torch.cuda.is_available() else "cpu"  # compiled on a GPU, the interpreter elsewhere
    err, scale = _bf16_gap(_model(n_layer=1).to(dev), torch.randint(0, 5, (1, 12), device=dev), backend="triton")
    assert err <= 3e-2 * max(scale, 1.0)


def test_for_inference_casts_matmul_weights_once_and_keeps_the_rest_fp32():
    model = _model().for_inference(torch.bfloat16)
    assert not model.training and model.lm_head.weight is model.embedding.weight
    kept = {"A_log", "D", "norm.weight", "norm_f.weight", "dt_proj.bias", "conv1d.weight", "conv1d.bias"}
    for name, p in model.named_parameters():
        fp32 = any(name.endswith(k) for k in kept)
        assert p.dtype == (torch.float32 if fp32 else torch.bfloat16), f"{name}: {p.dtype}"
    # chunked scoring with a carried state, as the scorers run it
    tokens = torch.randint(0, 5, (1, 50))
    with torch.inference_mode():
        whole = model(tokens)
        a, state = model(tokens[:, :21], return_state=True)
        b = model(tokens[:, 21:], state)
    assert (torch.cat([a, b], 1).float() - whole.float()).abs().max().item() <= 3e-2 * max(whole.abs().max().item(), 1)


def test_transformer_for_inference_is_close_to_fp32():
    torch.manual_seed(0)
    model = TransformerLM(TransformerConfig(d_model=32, n_layer=2, n_head=2))
    err, scale = _bf16_gap(model, torch.randint(0, 5, (2, 48)))
    assert err <= 3e-2 * max(scale, 1.0)


def test_a_bf16_inference_model_scores_a_fasta_like_the_fp32_model(tiny_fa):
    """The scorers take the model as it is: bf16 logits are upcast before the log-softmax."""
    model = _model().eval()
    want = gm.likelihood_track(model, tiny_fa, "chr1", 0, 200, device="cpu")
    got = gm.likelihood_track(copy.deepcopy(model).for_inference(torch.bfloat16), tiny_fa, "chr1", 0, 200, device="cpu")
    assert got.dtype == np.float32 and np.isnan(got[0]) and (np.isnan(got) == np.isnan(want)).all()
    assert np.nanmax(np.abs(got - want)) <= 5e-2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fused_add_norm_on_the_gpu_matches_the_reference_under_autocast():
    """The whole model on CUDA (Triton scan, conv and add-norm), bf16 autocast: logits and every
    parameter gradient with the fused add-norm on and off agree to bf16 rounding; so do the
    bf16-inference model's logits and the fp32 model's."""
    model = _model(n_layer=2).cuda()
    tokens = torch.randint(0, 5, (2, 2049), device="cuda")
    runs = []
    try:
        for fused in (True, False):
            set_fused_add_norm(fused)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(tokens).float()
            runs.append((logits, torch.autograd.grad(logits.square().mean(), list(model.parameters()))))
    finally:
        set_fused_add_norm(True)
    (got, grads), (want, grads_ref) = runs
    assert (got - want).abs().max().item() <= 3e-2 * max(want.abs().max().item(), 1.0)
    for (name, _), a, b in zip(model.named_parameters(), grads, grads_ref):
        err = (a - b).abs().max().item()
        assert err <= 3e-2 * max(b.abs().max().item(), 1e-3), f"d{name}: max abs err {err:.3e}"
    err, scale = _bf16_gap(model, tokens)
    assert err <= 3e-2 * max(scale, 1.0)
