"""The channel-last numba inference kernels (`genomamba.ops.mamba_inner_numba`) against the references:
the conv (`causal_conv1d_ref`), the scan (`selective_scan_ref`), the whole mixer interior
(`mamba_inner_ref`) and a CharMambaLM on the numba backend against the ref backend."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("numba")

from genomamba.models import CharMambaLM, MambaConfig
from genomamba.ops import mamba_inner_numba as cl
from genomamba.ops.causal_conv1d import causal_conv1d_ref
from genomamba.ops.mamba_inner import mamba_inner, mamba_inner_ref
from genomamba.ops.selective_scan_ref import selective_scan_ref

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _seq_idx(kind: str, Bsz: int, L: int, g: torch.Generator) -> torch.Tensor | None:
    """None, or packed rows: several sequences, the first one token long (a boundary between positions 0
    and 1, so the carried states feed position 0 only), some shorter than the conv, and row 1 one sequence."""
    if kind == "none":
        return None
    rows = []
    for b in range(Bsz):
        if b == 1 or L == 1:
            rows.append(torch.zeros(L, dtype=torch.int32))
            continue
        cuts = torch.zeros(L, dtype=torch.int32)
        cuts[1] = 1  # a boundary right after position 0
        if L > 3:
            cuts[torch.randint(2, L, (max(1, L // 7),), generator=g)] = 1
        rows.append(torch.cumsum(cuts, 0).to(torch.int32) + 3 * b)
    return torch.stack(rows)


def _strided(Bsz: int, L: int, D: int, g: torch.Generator, strided: bool, offset: int = 0) -> torch.Tensor:
    """[B, L, D], or the same values as a view into a wider buffer (as the x/z halves of xz)."""
    if not strided:
        return torch.randn(Bsz, L, D, generator=g)
    buf = torch.randn(Bsz, L, 2 * D + 3, generator=g)
    return buf[..., offset + 1:offset + 1 + D]


@pytest.mark.parametrize("L", [1, 3, 37, 1000])
@pytest.mark.parametrize("seq", ["none", "packed"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "state"])
@pytest.mark.parametrize("with_bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("strided", [False, True], ids=["contig", "view"])
def test_conv_matches_ref(L, seq, with_state, with_bias, strided):
    g = torch.Generator().manual_seed(L * 31 + with_state * 7 + with_bias * 3 + strided)
    Bsz, D, K = 3, 24, 4
    x = _strided(Bsz, L, D, g, strided)
    w = torch.randn(D, 1, K, generator=g)
    bias = torch.randn(D, generator=g) if with_bias else None
    st = torch.randn(Bsz, D, K - 1, generator=g) if with_state else None
    seq_idx = _seq_idx(seq, Bsz, L, g)
    out, fin = cl.causal_conv1d_silu_cl(x, w, bias, st, seq_idx)
    out_r, fin_r = causal_conv1d_ref(x, w, bias, st, "silu", True, seq_idx)
    assert out.shape == (Bsz, L, D) and out.is_contiguous() and fin.shape == (Bsz, D, K - 1)
    torch.testing.assert_close(out, out_r, **TOL)
    torch.testing.assert_close(fin, fin_r, rtol=0, atol=0)


def test_conv_no_activation_and_packing_matters():
    g = torch.Generator().manual_seed(5)
    x, w, b = torch.randn(2, 40, 8, generator=g), torch.randn(8, 4, generator=g), torch.randn(8, generator=g)
    st = torch.randn(2, 8, 3, generator=g)
    seq_idx = torch.tensor([[0] * 20 + [1] * 20, [0] + [1] * 38 + [2]])
    out, fin = cl.causal_conv1d_silu_cl(x, w, b, st, seq_idx, activation=None)
    out_r, fin_r = causal_conv1d_ref(x, w, b, st, None, True, seq_idx)
    torch.testing.assert_close(out, out_r, **TOL)
    torch.testing.assert_close(fin, fin_r, rtol=0, atol=0)
    assert (fin[1, :, :2] == 0).all()  # the last sequence of row 1 is one token long
    assert not torch.allclose(out, cl.causal_conv1d_silu_cl(x, w, b, st, None, activation=None)[0])


def _scan_inputs(Bsz, L, Di, N, g, strided):
    u = _strided(Bsz, L, Di, g, strided)
    z = _strided(Bsz, L, Di, g, strided, offset=Di)
    delta = _strided(Bsz, L, Di, g, strided) * 0.5 - 1.0
    if strided:  # B and C as the split of x_dbl: [dt | B | C]
        x_dbl = torch.randn(Bsz, L, 5 + 2 * N, generator=g)
        Bm, Cm = x_dbl[..., 5:5 + N], x_dbl[..., 5 + N:]
    else:
        Bm, Cm = torch.randn(Bsz, L, N, generator=g), torch.randn(Bsz, L, N, generator=g)
    A = -torch.exp(torch.randn(Di, N, generator=g))
    return u, delta, z, Bm, Cm, A


def _ref_scan(u, delta, A, Bm, Cm, D, z, bias, softplus, h0, seq_idx):
    t = (lambda x: None if x is None else x.transpose(1, 2))
    y, h = selective_scan_ref(t(u), t(delta), A, t(Bm), t(Cm), D, t(z), bias, softplus, h0, True, seq_idx=seq_idx)
    return y.transpose(1, 2), h


@pytest.mark.parametrize("L", [1, 3, 37, 1000])
@pytest.mark.parametrize("seq", ["none", "packed"])
@pytest.mark.parametrize("full", [False, True], ids=["plain", "D_z_bias_softplus_state"])
@pytest.mark.parametrize("strided", [False, True], ids=["contig", "view"])
def test_scan_matches_ref(L, seq, full, strided):
    g = torch.Generator().manual_seed(L * 13 + full * 5 + strided)
    Bsz, Di, N = 2, 40, 16  # 40: a channel block that is no multiple of the SIMD width
    u, delta, z, Bm, Cm, A = _scan_inputs(Bsz, L, Di, N, g, strided)
    seq_idx = _seq_idx(seq, Bsz, L, g)
    if full:
        D, bias, h0 = torch.randn(Di, generator=g), torch.randn(Di, generator=g) * 0.3, torch.randn(Bsz, Di, N, generator=g)
        args = (u, delta, A, Bm, Cm, D, z, bias, True, h0, seq_idx)
    else:
        args = (u, torch.nn.functional.softplus(delta), A, Bm, Cm, None, None, None, False, None, seq_idx)
    y, h = cl.selective_scan_fwd_cl(*args)
    y_r, h_r = _ref_scan(*args)
    assert y.shape == (Bsz, L, Di) and y.is_contiguous() and h.shape == (Bsz, Di, N) and h.dtype == torch.float32
    torch.testing.assert_close(y, y_r, **TOL)
    torch.testing.assert_close(h, h_r, **TOL)


@pytest.mark.parametrize("Di,N", [(1, 16), (96, 4), (520, 16)])
def test_scan_channel_counts(Di, N):
    """One channel; a small state; more channels than one block (several work items, a ragged last one)."""
    g = torch.Generator().manual_seed(Di)
    u, delta, z, Bm, Cm, A = _scan_inputs(1, 65, Di, N, g, True)
    D, bias, h0 = torch.randn(Di, generator=g), torch.randn(Di, generator=g), torch.randn(1, Di, N, generator=g)
    args = (u, delta, A, Bm, Cm, D, z, bias, True, h0, None)
    for got, want in zip(cl.selective_scan_fwd_cl(*args), _ref_scan(*args)):
        torch.testing.assert_close(got, want, **TOL)


def _inner_inputs(Bsz=2, L=53, d_model=12, Di=24, N=8, R=3, K=4, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    ins = {
        "xz": torch.randn(Bsz, L, 2 * Di, generator=g), "conv_weight": torch.randn(Di, 1, K, generator=g) * 0.5,
        "conv_bias": torch.randn(Di, generator=g), "x_proj_weight": torch.randn(R + 2 * N, Di, generator=g) * 0.3,
        "dt_proj_weight": torch.randn(Di, R, generator=g) * 0.5, "dt_bias": torch.randn(Di, generator=g) * 0.5 - 2,
        "A": -torch.exp(torch.randn(Di, N, generator=g)), "D": torch.randn(Di, generator=g),
        "out_proj_weight": torch.randn(d_model, Di, generator=g) * 0.2,
        "dt_rank": R, "d_state": N,
        "conv_state": torch.randn(Bsz, Di, K - 1, generator=g), "ssm_state": torch.randn(Bsz, Di, N, generator=g),
    }
    for k in ("xz", "x_proj_weight", "dt_proj_weight", "out_proj_weight", "conv_state"):
        ins[k] = ins[k].to(dtype)
    return ins


@pytest.fixture
def spy(monkeypatch):
    """Counts the calls of the channel-last inference function (so a test sees which path ran)."""
    calls = []
    real = cl.mamba_inner_numba_inference

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(cl, "mamba_inner_numba_inference", counted)
    monkeypatch.delenv("GENOMAMBA_NUMBA_MIXER", raising=False)
    return calls


@pytest.mark.parametrize("seq", ["none", "packed"])
@pytest.mark.parametrize("states", [False, True], ids=["no_state", "state"])
def test_mamba_inner_numba_inference_matches_ref(spy, seq, states):
    ins = _inner_inputs(seed=1 + states)
    if not states:
        ins["conv_state"] = ins["ssm_state"] = None
    seq_idx = _seq_idx(seq, 2, ins["xz"].shape[1], torch.Generator().manual_seed(3))
    with torch.inference_mode():
        got = mamba_inner(**ins, backend="numba", seq_idx=seq_idx)
    assert spy == [1]
    want = mamba_inner_ref(**ins, backend="ref", seq_idx=seq_idx)
    for name, a, b in zip(("out", "conv_state", "ssm_state"), got, want):
        assert a.dtype == b.dtype, name
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"{name}: {m}")


def test_dispatch_no_grad_vs_training(spy, monkeypatch):
    """Parameters requiring grad: with grad enabled the composed (autograd) path runs and gives gradients;
    under no_grad, or with nothing requiring grad, the inference kernels run; the env var turns them off."""
    ins = _inner_inputs(seed=4)
    params = {k: v.requires_grad_() if k in ("x_proj_weight", "D") else v for k, v in ins.items()}
    out, _, _ = mamba_inner(**params, backend="numba")
    assert spy == []
    out.sum().backward()
    assert params["x_proj_weight"].grad is not None
    with torch.no_grad():
        out_ng = mamba_inner(**params, backend="numba")[0]
    assert spy == [1]
    torch.testing.assert_close(out_ng, out.detach(), **TOL)
    mamba_inner(**_inner_inputs(seed=4), backend="numba")  # grad enabled, nothing requires it
    assert spy == [1, 1]
    mamba_inner(**params, backend="ref")  # other backends never take it
    with torch.no_grad():
        mamba_inner(**params, backend="torch")
    assert spy == [1, 1]
    monkeypatch.setenv("GENOMAMBA_NUMBA_MIXER", "0")
    with torch.no_grad():
        out_off = mamba_inner(**params, backend="numba")[0]
    assert spy == [1, 1]
    torch.testing.assert_close(out_off, out_ng, **TOL)


def test_mamba_inner_bf16_matches_composed(spy, monkeypatch):
    """bf16 activations and matmul weights (`for_inference`): cast to fp32 inside, rounded where the composed
    path rounds; the outputs and the conv state come back in bf16, the ssm state in fp32."""
    ins = _inner_inputs(seed=6, dtype=torch.bfloat16)
    with torch.inference_mode():
        got = mamba_inner(**ins, backend="numba")
        monkeypatch.setenv("GENOMAMBA_NUMBA_MIXER", "0")
        want = mamba_inner(**ins, backend="numba")
    assert spy == [1]
    assert [t.dtype for t in got] == [torch.bfloat16, torch.bfloat16, torch.float32]
    torch.testing.assert_close(got[1], want[1], rtol=0, atol=0)
    torch.testing.assert_close(got[0].float(), want[0].float(), rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(got[2], want[2], rtol=2e-2, atol=2e-2)
    ref = mamba_inner_ref(**{k: v.float() if torch.is_tensor(v) else v for k, v in ins.items()}, backend="ref")
    assert (got[0].float() - ref[0]).abs().max() < 0.1 * ref[0].abs().max()


def _lm(backend: str) -> CharMambaLM:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=32, n_layer=2, d_state=16, scan_backend=backend)).eval()


def test_lm_numba_inference_matches_ref_backend_and_streams(spy):
    model, ref = _lm("numba"), _lm("ref")
    ref.load_state_dict(model.state_dict())
    tokens = torch.randint(0, 4, (2, 150), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        logits, state = model(tokens, return_state=True)
        logits_r, state_r = ref(tokens, return_state=True)
        assert len(spy) == 2  # one call a layer
        torch.testing.assert_close(logits, logits_r, **TOL)
        for s, s_r in zip(state, state_r):
            torch.testing.assert_close(s.conv, s_r.conv, **TOL)
            torch.testing.assert_close(s.ssm, s_r.ssm, **TOL)
        chunks, st = [], None  # chunked (the state carried; chunks shorter than the conv included)
        for a, b in [(0, 2), (2, 3), (3, 64), (64, 150)]:
            out, st = model(tokens[:, a:b], st, return_state=True)
            chunks.append(out)
        torch.testing.assert_close(torch.cat(chunks, 1), logits, **TOL)
        for s, s1 in zip(st, state):
            torch.testing.assert_close(s.conv, s1.conv, **TOL)
            torch.testing.assert_close(s.ssm, s1.ssm, **TOL)
