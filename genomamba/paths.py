"""Locations of files installed with the package: bundled genomes and Hydra configs."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundled_data_dir() -> Path:
    """The installed copy of the repository's data/ folder (E. coli MG1655, phage lambda)."""
    return Path(str(files("genomamba.bundled")))


def bundled_file(name: str) -> str:
    """Absolute path of a bundled file, e.g. bundled_file("ecoli_mg1655.fa.gz")."""
    path = bundled_data_dir() / name
    if not path.exists():
        available = sorted(p.name for p in bundled_data_dir().iterdir() if p.suffix == ".gz")
        raise FileNotFoundError(f"no bundled file {name!r}; bundled genomes: {available}")
    return str(path)


def config_dir() -> Path:
    """The installed copy of the repository's conf/ folder."""
    return Path(str(files("genomamba.conf")))
