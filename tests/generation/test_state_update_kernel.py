"""genomamba_kernels.mamba_step_triton against the torch step `mamba_step_ref`: output and the
in-place conv and SSM states over several steps, odd channel counts (the channel loop runs more
than once and ends masked), with and without the biases and D, fp32 and bf16. Under the Triton
interpreter on the CPU, full size on a GPU. (The decode step's add + RMSNorm is
`genomamba_kernels.add_rms_norm_triton`, tested in tests/kernels/test_layer_norm.py.)"""

from __future__ import annotations

import pytest
import torch

from genomamba.ops.state_update import mamba_step_ref

pytest.importorskip("triton")
from genomamba_kernels import mamba_step_triton

from ..kernels.helpers import assert_close


def run_steps(Bsz, Di, K, R, N, dtype, device, biases=True, n_steps=3, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0, dt=dtype):
        return (scale * torch.randn(*shape, generator=g)).to(dt).to(device)

    conv_w, x_w, dt_w = rand(Di, 1, K, scale=0.5), rand(R + 2 * N, Di, scale=0.3), rand(Di, R, scale=0.3)
    conv_b, dt_b, D = (rand(Di), rand(Di), rand(Di, dt=torch.float32)) if biases else (None, None, None)
    A_log = rand(Di, N, scale=0.5, dt=torch.float32)
    states = [(rand(Bsz, Di, K - 1), rand(Bsz, Di, N, dt=torch.float32)) for _ in range(2)]
    states[1] = (states[0][0].clone(), states[0][1].clone())
    for step in range(n_steps):
        xz = rand(Bsz, 2 * Di)
        args = (conv_w, conv_b, x_w, dt_w, dt_b, A_log, D, R, N)
        y = mamba_step_triton(xz, *states[0], *args)
        y_ref = mamba_step_ref(xz, *states[1], *args)
        assert y.dtype == dtype and y.shape == (Bsz, Di)
        assert_close(f"y[{step}]", y, y_ref, dtype)
        assert_close(f"conv_state[{step}]", states[0][0], states[1][0], dtype)
        assert_close(f"ssm_state[{step}]", states[0][1], states[1][1], dtype)


CASES = [
    pytest.param(3, 24, 4, 5, 6, torch.float32, True, id="B3-D24-K4-R5-N6-f32"),
    pytest.param(1, 16, 2, 1, 16, torch.float32, False, id="B1-D16-K2-R1-N16-f32-nobias"),
    pytest.param(2, 40, 4, 3, 8, torch.bfloat16, True, id="B2-D40-K4-R3-N8-bf16"),
]


@pytest.mark.parametrize("Bsz,Di,K,R,N,dtype,biases", CASES)
def test_step_kernel_matches_reference(Bsz, Di, K, R, N, dtype, biases, monkeypatch):
    monkeypatch.setenv("GENOMAMBA_KERNELS_DEBUG", "1")  # NaN-poisoned outputs: an unwritten element fails
    run_steps(Bsz, Di, K, R, N, dtype, torch.device("cuda" if torch.cuda.is_available() else "cpu"), biases)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("Bsz", [1, 64])
def test_step_kernel_full_size(Bsz, dtype):
    run_steps(Bsz, 512, 4, 16, 16, dtype, torch.device("cuda"), n_steps=8)
