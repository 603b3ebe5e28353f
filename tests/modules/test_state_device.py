"""A fresh inference state lands on the layer's own device unless the caller names another."""

from __future__ import annotations

import torch

from genomamba.models import MambaConfig
from genomamba.modules import MambaMixer
from genomamba.modules.attention import CausalSelfAttention


def test_mixer_state_follows_the_mixer_device():
    mixer = MambaMixer(MambaConfig(d_model=8, d_state=4)).to("meta")
    state = mixer.allocate_state(2)
    assert state.conv.device.type == state.ssm.device.type == "meta"
    assert mixer.allocate_state(2, device="cpu").conv.device.type == "cpu"


def test_attention_cache_follows_the_layer_device():
    attn = CausalSelfAttention(16, 2).to("meta")
    cache = attn.allocate_state(1)
    assert cache.k.device.type == "meta" and cache.k.dtype == torch.float32
