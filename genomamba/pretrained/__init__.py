"""Pretrained models shipped inside the package, loadable by name wherever a model directory is
accepted (`genomamba.load_model("human-small")`, `genomamba-score vcf bacteria-small ...`).

Each lives in a subfolder of this package: config.json + model.safetensors (bf16 matrices) +
README.md, its model card (data and licence, training command, steps, tokens, validation figures).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PRETRAINED", "pretrained_dir", "resolve_model_dir"]

_HERE = Path(__file__).resolve().parent

PRETRAINED = {
    "bacteria-small": "causal character-level Mamba, 3.5 M parameters, 12 bacterial genomes (E. coli, S. aureus, H. pylori)",
    "human-small": "causal character-level Mamba, 3.5 M parameters, GRCh37 chromosome 20 and chromosome X 1-70 Mb",
}


def pretrained_dir(name: str) -> Path:
    """The model directory of the shipped model `name` (one of `PRETRAINED`)."""
    if name not in PRETRAINED:
        raise KeyError(f"no shipped model {name!r}; shipped: {', '.join(PRETRAINED)}")
    return _HERE / name


def resolve_model_dir(path: str | Path) -> Path:
    """`path` as a directory: an existing path wins; else a shipped model's name gives its folder;
    else `path` unchanged (the reader then says it is not a model directory)."""
    p = Path(path)
    if not p.exists() and str(path) in PRETRAINED:
        return pretrained_dir(str(path))
    return p
