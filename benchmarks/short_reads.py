"""Shared by the packing benchmarks: a FASTA of many short records cut from a genome, and the machine line.

`write_reads` samples N intervals of uniform random length in [min_len, max_len] at uniform random
positions of the genome's records (either strand), so the lengths vary as reads, plasmids or contigs do.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np


def write_reads(genome: str | Path, out: str | Path, n: int, min_len: int, max_len: int, seed: int = 0) -> Path:
    """Write `n` records `read{i}` of `min_len..max_len` bases cut from `genome` to the FASTA `out`."""
    from genomamba.alphabet import reverse_complement_str
    from genomamba.io.fasta import FastaReader

    rng = np.random.default_rng(seed)
    with FastaReader(genome) as reader:
        names = [r for r in reader.names if reader.lengths[r] >= max_len]
        if not names:
            raise SystemExit(f"{genome}: no record of at least {max_len} bp to cut reads from")
        sizes = np.array([reader.lengths[r] for r in names], dtype=np.float64)
        picks = rng.choice(len(names), size=n, p=sizes / sizes.sum())
        lengths = rng.integers(min_len, max_len + 1, size=n)
        with open(out, "w") as f:
            for i, (k, m) in enumerate(zip(picks, lengths)):
                start = int(rng.integers(0, reader.lengths[names[k]] - m + 1))
                seq = reader.fetch(names[k], start, start + int(m))
                if rng.random() < 0.5:
                    seq = reverse_complement_str(seq)
                f.write(f">read{i}\n{seq}\n")
    return Path(out)


def machine(device: str) -> str:
    """CPU model, cores, torch version and the GPU's name on CUDA."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    desc = f"{cpu}, {len(os.sched_getaffinity(0))} CPU cores, torch {torch.__version__}"
    if device.startswith("cuda"):
        desc += f", {torch.cuda.get_device_name(device)}"
    return desc
