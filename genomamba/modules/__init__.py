"""nn.Modules that own parameters and their init: Mamba mixer (one or both directions), causal
self-attention, RMSNorm, residual block."""

from genomamba.modules.attention import CausalSelfAttention, KVCache
from genomamba.modules.bimamba import BiMambaMixer
from genomamba.modules.block import ResidualBlock
from genomamba.modules.mamba import MambaMixer, MixerState
from genomamba.modules.norm import RMSNorm

__all__ = ["BiMambaMixer", "CausalSelfAttention", "KVCache", "MambaMixer", "MixerState", "RMSNorm", "ResidualBlock"]
