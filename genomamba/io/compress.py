"""Finishing steps of compressed outputs: a finished plain temporary file becomes the target.

A name ending in `.gz` or `.bgz` is written as bgzip (gzip-compatible, block-compressed, what
tabix needs) when pysam is importable, else as plain gzip. Each function writes to its own
temporary file beside the target and renames it, so the target only ever holds a whole file.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

from genomamba.atomic import file_mode, temp_beside

__all__ = ["is_compressed_name", "pysam_available", "compress_onto", "compressor"]


def is_compressed_name(name: str | Path) -> bool:
    return str(name).lower().endswith((".gz", ".bgz"))


def pysam_available() -> bool:
    return importlib.util.find_spec("pysam") is not None


def compress_onto(plain: Path, target: Path, tabix_preset: str | None = None) -> str:
    """bgzip (or gzip) `plain` onto `target`; with `tabix_preset` also index it as `target.tbi`.

    An index that cannot be made (unsorted input) or a run without pysam removes any earlier
    `target.tbi`, so no stale index is ever left beside a new file.

    Returns:
        A note for the user: "bgzip + tabix index", "bgzip (no tabix index: ...)", "gzip ...".
    """
    tbi_final = target.with_name(target.name + ".tbi")
    tmp_gz = temp_beside(target, ".gz")
    tbi: Path | None = None
    try:
        if pysam_available():
            import pysam

            pysam.tabix_compress(str(plain), str(tmp_gz), force=True)
            os.chmod(tmp_gz, file_mode())
            note = "bgzip"
            if tabix_preset:
                tbi = tmp_gz.with_name(tmp_gz.name + ".tbi")
                try:
                    pysam.tabix_index(str(tmp_gz), preset=tabix_preset, force=True, index=str(tbi))
                    os.chmod(tbi, file_mode())
                except (OSError, ValueError) as e:  # unsorted input: keep the bgzip, say why
                    tbi.unlink(missing_ok=True)
                    tbi = None
                    note += f" (no tabix index: {e})"
        else:
            with open(plain, "rb") as src, gzip.open(tmp_gz, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            note = "plain gzip (pysam is not installed: no bgzip, no tabix index)"
        os.replace(tmp_gz, target)
        if tbi is not None:
            os.replace(tbi, tbi_final)
            note += " + tabix index"
        elif tabix_preset:
            tbi_final.unlink(missing_ok=True)  # an index of the previous file would now be wrong
        return note
    finally:
        tmp_gz.unlink(missing_ok=True)
        if tbi is not None:
            tbi.unlink(missing_ok=True)


def compressor(target: str | Path) -> Callable[[Path, Path], None] | None:
    """The finishing step an output name asks for (`.gz`/`.bgz`: compress), or None (plain)."""
    if not is_compressed_name(target):
        return None
    return lambda plain, final: compress_onto(plain, final) and None
