"""The recurrent step gives the parallel forward's logits: MambaMixer.step against forward, and a
Decoder's prefill + per-token step against one forward over the whole sequence (Mamba, the
transformer's KV cache with and without a window, a hybrid of attention and Mamba layers), odd
prompt lengths, fp32 at 1e-5."""

from __future__ import annotations

import pytest
import torch

from genomamba.models.generation import Decoder, Sampling

from .helpers import MODELS, tiny_mamba


@pytest.mark.parametrize("backend", ["torch", "auto"])  # auto: the numba forward on the CPU
@pytest.mark.parametrize("prefix", [0, 1, 7])
def test_mixer_step_matches_forward(prefix, backend):
    mixer = tiny_mamba(scan_backend=backend).layers[0].mixer
    x = torch.randn(3, prefix + 9, mixer.d_model, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, want_state = mixer(x)
        state = mixer.allocate_state(3)
        if prefix:
            _, carried = mixer(x[:, :prefix])
            state.conv.copy_(carried.conv)
            state.ssm.copy_(carried.ssm)
        ptrs = (state.conv.data_ptr(), state.ssm.data_ptr())
        got = torch.stack([mixer.step(x[:, t], state) for t in range(prefix, x.shape[1])], 1)
    torch.testing.assert_close(got, want[:, prefix:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state.ssm, want_state.ssm, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state.conv, want_state.conv, rtol=1e-5, atol=1e-5)
    assert (state.conv.data_ptr(), state.ssm.data_ptr()) == ptrs  # updated in place


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("prompt_len", [1, 6, 11])
def test_decoder_steps_match_parallel_forward(kind, prompt_len):
    model = MODELS[kind]()
    seq = torch.randint(0, 5, (2, prompt_len + 8), generator=torch.Generator().manual_seed(prompt_len))
    seq[1, :prompt_len] = seq[0, :prompt_len]
    dec = Decoder(model, 2, Sampling(temperature=0))
    with torch.inference_mode():
        want = model(seq)
        dec.prefill(seq[0, :prompt_len])  # one prompt for both rows; the rows then diverge
        got = [dec.logits.clone()]
        for t in range(prompt_len, seq.shape[1] - 1):
            got.append(dec.step(seq[:, t]).float())
    torch.testing.assert_close(got[0], want[:, prompt_len - 1].float().expand(2, -1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.stack(got[1:], 1), want[:, prompt_len:-1].float(), rtol=1e-5, atol=1e-5)


def test_mamba_state_is_preallocated_and_fixed():
    dec = Decoder(tiny_mamba(), 2, Sampling(temperature=0), steps_per_graph=4)
    ptrs = [(s.conv.data_ptr(), s.ssm.data_ptr()) for s in dec.state]
    dec.generate(torch.tensor([0, 1, 2]), 9)
    assert [(s.conv.data_ptr(), s.ssm.data_ptr()) for s in dec.state] == ptrs
