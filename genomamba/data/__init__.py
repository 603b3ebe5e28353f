"""Windows over genomes: splits, samplers, datasets and the LightningDataModule."""

from genomamba.data.dataset import GenomeWindowDataset
from genomamba.data.windows import RandomWindows, Window, make_splits, tile_windows

__all__ = ["GenomeWindowDataset", "RandomWindows", "Window", "make_splits", "tile_windows"]
