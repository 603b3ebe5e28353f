"""Windows over genomes: splits, samplers, datasets and the LightningDataModule."""

from genomamba.data.dataset import GenomeWindowDataset
from genomamba.data.splits import assign_folds, block_keys, fold_indices
from genomamba.data.windows import RandomWindows, Window, make_splits, tile_windows

__all__ = ["assign_folds", "block_keys", "fold_indices", "GenomeWindowDataset", "RandomWindows", "Window", "make_splits", "tile_windows"]
