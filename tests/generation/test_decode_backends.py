"""The decode loop on its fast paths gives the plain loop's tokens: the Triton step (through the
interpreter on the CPU) against the torch step, and on a GPU the CUDA graph against the eager loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genomamba.models.generation import Decoder, Sampling

from .helpers import tiny_mamba

pytest.importorskip("triton")


def test_triton_step_decodes_as_torch_step():
    prompt = torch.tensor([0, 1, 2, 3, 3])
    torch_model = tiny_mamba(scan_backend="torch", n_layer=1)
    triton_model = tiny_mamba(scan_backend="triton", n_layer=1)
    triton_model.load_state_dict(torch_model.state_dict())
    if torch.cuda.is_available():  # compiled on a GPU, the interpreter elsewhere
        triton_model = triton_model.cuda()
    got = [Decoder(m, 2, Sampling(top_k=3), steps_per_graph=3).generate(prompt, 6, torch.Generator().manual_seed(3))
           for m in (torch_model, triton_model)]
    np.testing.assert_array_equal(got[0], got[1])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_cuda_graph_decodes_as_eager_loop(dtype):
    from genomamba.models import CharMambaLM, MambaConfig

    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=64, n_layer=2, d_state=16)).cuda().to(dtype).eval()
    prompt = torch.randint(0, 4, (301,))
    for sampling in (Sampling(temperature=0), Sampling(temperature=0.9, top_p=0.9)):
        runs = []
        for graph in (True, False):
            dec = Decoder(model, 4, sampling, steps_per_graph=16, cuda_graph=graph)
            assert (dec.graph is not None) == graph
            runs.append(dec.generate(prompt, 100, torch.Generator(device="cuda").manual_seed(5)))
        np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_decode_memory_constant_in_length():
    from genomamba.models import CharMambaLM, MambaConfig

    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=64, n_layer=2, d_state=16)).cuda().eval()
    dec = Decoder(model, 4, Sampling(temperature=0.9), steps_per_graph=16)
    prompt = torch.randint(0, 4, (301,))
    peaks = []
    for length in (64, 64, 4096):
        torch.cuda.reset_peak_memory_stats()
        dec.generate(prompt, length)
        peaks.append(torch.cuda.max_memory_allocated())
    assert peaks[2] <= peaks[1] + (1 << 20), peaks
