"""nn.Modules that own parameters and their init: Mamba mixer, RMSNorm, residual block."""

from genomamba.modules.block import ResidualBlock
from genomamba.modules.mamba import MambaMixer, MixerState
from genomamba.modules.norm import RMSNorm

__all__ = ["MambaMixer", "MixerState", "RMSNorm", "ResidualBlock"]
