"""Mean-pooled hidden states per record or window, written as Parquet (streamed) or .npz."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from genomamba.errors import GenomambaError

__all__ = ["EMBEDDING_SUFFIXES", "EmbeddingWriter", "embedding_format"]

EMBEDDING_SUFFIXES = (".parquet", ".npz")


def embedding_format(path: str | Path) -> str:
    """".parquet" or ".npz" from the file name; fails early when Parquet has no pyarrow."""
    suffix = Path(path).suffix.lower()
    if suffix not in EMBEDDING_SUFFIXES:
        raise GenomambaError(f"--embeddings {path}: use a .parquet or .npz file name")
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise GenomambaError(
            f"--embeddings {path}: writing Parquet needs pyarrow (pip install pyarrow), "
            f"or give a .npz file name instead"
        )
    return suffix


class EmbeddingWriter:
    """Mean hidden states per record or window: Parquet (streamed in row groups, needs pyarrow) or .npz.

    Parquet columns: name, start, end, embedding (fixed-size list of float32). The .npz holds
    arrays `name`, `start`, `end` and `embedding` `[rows, D]` (kept in memory until closed).
    """

    ROW_GROUP = 4096

    def __init__(self, path: Path, fmt: str) -> None:
        self._path, self._fmt = path, fmt
        self._rows: list = []
        self._writer = None

    def add(self, name: str, start: int, end: int, embedding: np.ndarray) -> None:
        self._rows.append((name, start, end, embedding))
        if self._fmt == ".parquet" and len(self._rows) >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._rows:
            return
        names, starts, ends, embs = zip(*self._rows)
        emb = np.stack(embs).astype(np.float32)
        values = pa.array(emb.reshape(-1))
        table = pa.table(
            {
                "name": pa.array(names, pa.string()),
                "start": pa.array(starts, pa.int64()),
                "end": pa.array(ends, pa.int64()),
                "embedding": pa.FixedSizeListArray.from_arrays(values, emb.shape[1]),
            }
        )
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._path, table.schema)
        self._writer.write_table(table)
        self._rows = []

    def close(self) -> None:
        if self._fmt == ".parquet":
            self._flush()
            if self._writer is not None:
                self._writer.close()
            return
        names, starts, ends, embs = zip(*self._rows) if self._rows else ((), (), (), ())
        with open(self._path, "wb") as f:  # a file object: np.savez would append ".npz" to the temp name
            np.savez(
                f, name=np.array(names, dtype=str), start=np.array(starts, np.int64),
                end=np.array(ends, np.int64),
                embedding=np.stack(embs).astype(np.float32) if embs else np.zeros((0, 0), np.float32),
            )
