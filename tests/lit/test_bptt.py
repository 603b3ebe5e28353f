"""genomamba.lit.bptt: chunked backprop through time gives the one-pass loss and every parameter's
one-pass gradient (torch, ref, numba and Triton-interpreter backends; odd lengths, several chunk
sizes, bf16 autocast); truncated mode is per-chunk backprop with a detached carried state; the
carried conv state is differentiable on every backend; bidirectional models are refused."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from genomamba.alphabet import PAD, N
from genomamba.errors import ConfigError
from genomamba.lit.bptt import chunked_backward, chunked_grad, chunked_loss
from genomamba.lit.pretrain import next_base_loss, next_base_loss_terms
from genomamba.models import CharMambaLM, MambaConfig
from genomamba.ops import causal_conv1d, causal_conv1d_ref

HAS_TRITON = importlib.util.find_spec("triton") is not None and importlib.util.find_spec("genomamba_kernels") is not None


def _model(backend: str, d_model: int = 16, n_layer: int = 2, **kw) -> CharMambaLM:
    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=d_model, n_layer=n_layer, d_state=4, scan_backend=backend, **kw))
    with torch.no_grad():  # A away from its init, so the state decays slowly and carries across chunks
        for layer in model.layers:
            layer.mixer.A_log.mul_(0.1)
    return model


def _batch(B: int, L: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 4, (B, L), generator=g)
    tokens[0, 5:9] = N  # unscored targets, and padding at the end of a row
    tokens[-1, -7:] = PAD
    softmask = torch.rand(B, L, generator=g) < 0.3
    return tokens, softmask


def _one_pass(model, tokens, softmask, weight=0.5):
    model.zero_grad(set_to_none=True)
    loss, _ = next_base_loss(model(tokens), tokens, softmask, weight)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _chunked(model, tokens, softmask, chunk, weight=0.5, truncated=False):
    model.zero_grad(set_to_none=True)
    loss_fn, _ = next_base_loss_terms(tokens, softmask, weight)
    loss = chunked_backward(model, tokens, chunk, loss_fn, truncated=truncated)
    return loss, {n: p.grad.clone() for n, p in model.named_parameters()}


def _assert_grads_close(got, want, rtol, atol):
    assert got.keys() == want.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=rtol, atol=atol, msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("backend", ["torch", "ref", "numba"])
@pytest.mark.parametrize("chunk", [64, 100, 257])
def test_exact_chunked_gradients_equal_one_pass(backend, chunk):
    if backend == "numba":
        pytest.importorskip("numba")
    model = _model(backend)
    tokens, softmask = _batch(2, 257)
    loss_ref, grads_ref = _one_pass(model, tokens, softmask)
    loss, grads = _chunked(model, tokens, softmask, chunk)
    assert not loss.requires_grad
    torch.testing.assert_close(loss, loss_ref, rtol=1e-5, atol=1e-6)
    _assert_grads_close(grads, grads_ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", ["torch", "numba"])
@pytest.mark.parametrize("chunk", [64, 100])
def test_packed_chunked_gradients_equal_one_pass(backend, chunk):
    """Packed rows (seq_idx): boundaries inside a chunk and exactly at a chunk edge (64, 128, 200) give
    the one-pass loss and gradients; the state restarts there and no target crosses a boundary."""
    if backend == "numba":
        pytest.importorskip("numba")
    model = _model(backend)
    tokens, softmask = _batch(2, 257)
    seq_idx = torch.zeros(2, 257, dtype=torch.int32)
    for b, cuts in enumerate(([64, 128, 200], [37, 100, 101])):
        for c in cuts:
            seq_idx[b, c:] += 1
    model.zero_grad(set_to_none=True)
    loss_ref, _ = next_base_loss(model(tokens, seq_idx=seq_idx), tokens, softmask, 0.5, seq_idx)
    loss_ref.backward()
    grads_ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    loss_fn, _ = next_base_loss_terms(tokens, softmask, 0.5, seq_idx)
    loss = chunked_backward(model, tokens, chunk, loss_fn, seq_idx=seq_idx)
    torch.testing.assert_close(loss, loss_ref.detach(), rtol=1e-5, atol=1e-6)
    _assert_grads_close({n: p.grad.clone() for n, p in model.named_parameters()}, grads_ref, rtol=1e-4, atol=1e-6)
    loss_fn, _ = next_base_loss_terms(tokens, softmask, 0.5, seq_idx)
    torch.testing.assert_close(chunked_loss(model, tokens, chunk, loss_fn, seq_idx), loss_ref.detach(),
                               rtol=1e-5, atol=1e-6)


def test_the_carried_state_matters_to_the_gradient():
    """The equality above is not vacuous: cutting the gradient at chunk edges changes it."""
    model = _model("torch")
    tokens, softmask = _batch(1, 200)
    _, exact = _chunked(model, tokens, softmask, 50)
    _, cut = _chunked(model, tokens, softmask, 50, truncated=True)
    diff = max((exact[n] - cut[n]).abs().max().item() / exact[n].abs().max().item() for n in exact)
    assert diff > 1e-3


def test_truncated_is_per_chunk_backprop_with_a_detached_state():
    model = _model("torch")
    tokens, softmask = _batch(2, 150)
    loss, grads = _chunked(model, tokens, softmask, 64, truncated=True)
    model.zero_grad(set_to_none=True)
    loss_fn, _ = next_base_loss_terms(tokens, softmask, 0.5)
    state, total = None, 0.0
    for s in range(0, 150, 64):
        logits, state = model(tokens[:, s:s + 64], state, return_state=True)
        term = loss_fn(logits, s)
        term.backward()
        state = [type(st)(*(t.detach() for t in st)) for st in state]
        total += term.item()
    assert loss.item() == pytest.approx(total, rel=1e-6)
    _assert_grads_close(grads, {n: p.grad for n, p in model.named_parameters()}, rtol=1e-5, atol=1e-7)


def test_chunked_loss_is_the_one_pass_loss_without_grad():
    model = _model("torch")
    tokens, softmask = _batch(2, 131)
    loss_fn, _ = next_base_loss_terms(tokens, softmask, 0.5)
    got = chunked_loss(model, tokens, 40, loss_fn)
    assert not got.requires_grad
    torch.testing.assert_close(got, next_base_loss(model(tokens), tokens, softmask, 0.5)[0], rtol=1e-5, atol=1e-6)


def test_bf16_autocast():
    model = _model("torch", d_model=32)
    tokens, softmask = _batch(1, 257)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss_ref, grads_ref = _one_pass(model, tokens, softmask)
        loss, grads = _chunked(model, tokens, softmask, 100)
    torch.testing.assert_close(loss, loss_ref, rtol=2e-2, atol=2e-2)
    for name in grads_ref:  # bf16 rounding differs between the two orders: relative to each tensor's scale
        err = (grads[name] - grads_ref[name]).abs().max() / grads_ref[name].abs().max().clamp_min(1e-8)
        assert err < 5e-2, f"{name}: relative max error {err:.3g}"


@pytest.mark.skipif(not HAS_TRITON, reason="needs triton and genomamba_kernels")
def test_triton_chunked_gradients_equal_one_pass():
    """On Triton the one pass runs the fused mixer, the recomputed chunks compose the Triton ops
    (their carried states need gradient); under TRITON_INTERPRET=1 without CUDA."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = _model("triton", d_model=8, n_layer=1).to(device)
    g = torch.Generator().manual_seed(0)  # every target scored: the later chunks' loss reaches chunk 0
    tokens, softmask = torch.randint(0, 4, (1, 13), generator=g).to(device), None
    loss_ref, grads_ref = _one_pass(model, tokens, softmask)
    loss, grads = _chunked(model, tokens, softmask, 5)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-4, atol=1e-5)
    _assert_grads_close(grads, grads_ref, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("backend", ["torch"] + (["triton"] if HAS_TRITON else []))
@pytest.mark.parametrize("L", [9, 2])  # L < K - 1: part of the final state is the initial state
def test_final_conv_state_is_differentiable(backend, L):
    g = torch.Generator().manual_seed(0)
    Bsz, D, K = 2, 8, 4
    device = "cuda" if backend == "triton" and torch.cuda.is_available() else "cpu"
    x, st = torch.randn(Bsz, L, D, generator=g).to(device), torch.randn(Bsz, D, K - 1, generator=g).to(device)
    w, b = torch.randn(D, 1, K, generator=g).to(device), torch.randn(D, generator=g).to(device)
    r_out, r_fin = torch.randn(Bsz, L, D, generator=g).to(device), torch.randn(Bsz, D, K - 1, generator=g).to(device)
    results = []
    for fn in (lambda *a: causal_conv1d(*a, return_final_state=True, backend=backend),
               lambda *a: causal_conv1d_ref(*a, return_final_state=True)):
        leaves = [t.clone().requires_grad_() for t in (x, w, b, st)]
        out, fin = fn(*leaves)
        results.append((fin.detach(), torch.autograd.grad((out * r_out).sum() + (fin * r_fin).sum(), leaves)))
    (fin, grads), (fin_ref, grads_ref) = results
    torch.testing.assert_close(fin, fin_ref)
    for name, a, r in zip(["dx", "dw", "dbias", "dstate"], grads, grads_ref):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-5, msg=lambda m, name=name: f"{name}: {m}")


def test_one_chunk_is_the_one_pass():
    model = _model("torch")
    tokens, softmask = _batch(2, 60)
    params = list(model.parameters())
    loss_fn, _ = next_base_loss_terms(tokens, softmask, 0.5)
    loss, grads = chunked_grad(model, tokens, 1000, loss_fn, params)
    loss_ref, grads_ref = _one_pass(model, tokens, softmask)
    torch.testing.assert_close(loss, loss_ref)
    for g, (n, r) in zip(grads, grads_ref.items()):
        torch.testing.assert_close(g, r, msg=lambda m, n=n: f"{n}: {m}")


def test_bidirectional_and_bad_chunks_are_refused():
    model = _model("torch", bidirectional=True)
    tokens, softmask = _batch(1, 20)
    loss_fn, _ = next_base_loss_terms(tokens, softmask)
    with pytest.raises(ConfigError, match="needs a causal model"):
        chunked_backward(model, tokens, 8, loss_fn)
    with pytest.raises(ConfigError, match="positive"):
        chunked_backward(_model("torch"), tokens, 0, loss_fn)
    with pytest.raises(ConfigError, match="KV cache"):  # a hybrid's attention state is no fixed-size state
        hybrid = CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4, attn_layer_idx=[1], attn_num_heads=2))
        chunked_backward(hybrid, tokens, 8, loss_fn)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or not HAS_TRITON, reason="needs CUDA and triton")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_triton_chunked_gradients_full_size(dtype):
    model = _model("triton", d_model=64).cuda()
    tokens, softmask = (t.cuda() for t in _batch(2, 8191))
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        loss_ref, grads_ref = _one_pass(model, tokens, softmask)
        loss, grads = _chunked(model, tokens, softmask, 3000)
    tol = 1e-3 if dtype == torch.float32 else 5e-2
    torch.testing.assert_close(loss, loss_ref, rtol=tol, atol=tol)
    for name in grads_ref:
        err = (grads[name] - grads_ref[name]).abs().max() / grads_ref[name].abs().max().clamp_min(1e-8)
        assert err < tol, f"{name}: relative max error {err:.3g}"
