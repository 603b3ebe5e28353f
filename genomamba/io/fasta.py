"""Indexed random access to FASTA files. Coordinates are 0-based, end-exclusive (half-open).

Accepted inputs (detected by the file's magic bytes, never by its extension):
    plain FASTA          read with `os.pread` through a samtools-compatible `.fai` (no pyfaidx on
                         the hot path: one system call, one `bytes.replace`, one table lookup).
    BGZF (bgzip) FASTA   read through pyfaidx with a `.fai` of *uncompressed* offsets (as samtools
                         writes it) and an htslib `.gzi` block index.
    plain gzip FASTA     not seekable, so converted once to an uncompressed indexed copy in the
                         cache directory (`$GENOMAMBA_CACHE` or `~/.cache/genomamba/fasta`), keyed
                         by absolute path, size and mtime. Uncompressed, because a seek + read on
                         it is several times faster than inflating a 64 KiB BGZF block per window.

A compressed file that is cut short or corrupt raises `FastaCorruptError` naming the file: a BGZF
file must end with the 28-byte empty EOF block (a file cut at a block boundary is otherwise valid
gzip that reads as a shorter genome), and gzip decoding errors (truncated stream, bad CRC, bad
deflate data) are reported, never passed on as zlib tracebacks.

A missing or stale `.fai` is built by `index_fasta`, a streaming validator (constant memory, one
line at a time) that raises a `FastaFormatError` subclass naming the file and the 1-based line.
Lines may end in LF or CRLF. Record name = first whitespace-delimited token of the header.
Sequences come back as stored (soft-masked lowercase kept); `fetch_tokens` encodes them with
`genomamba.alphabet.encode` to uint8 tokens `[L]`. No record is ever loaded whole.

File handles open lazily in the process that reads (a forked DataLoader worker reopens its own)
and are dropped when pickled; indexes are read once, at construction.
"""

from __future__ import annotations

import gzip
import hashlib
import operator
import os
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from genomamba import alphabet as _alphabet
from genomamba.alphabet import encode
from genomamba.atomic import atomic_path, atomic_write_bytes
from genomamba.errors import (
    FastaCorruptError,
    GenomambaError,
    FastaDuplicateRecordError,
    FastaEmptyRecordError,
    FastaFetchError,
    FastaFormatError,
    FastaLineLengthError,
    FastaNoHeaderError,
)

__all__ = ["FastaReader", "GenomeSet", "FaiRecord", "index_fasta", "read_fai", "default_cache_dir", "preview_names"]

# Same mapping as `alphabet.encode`, as `bytes.translate` tables: 4x faster than a numpy fancy
# index on 1 kb windows, which keeps fetch_tokens within 1.5x of a raw pyfaidx fetch.
_TOKEN_TABLE = _alphabet._ENCODE.tobytes()
_SOFTMASK_TABLE = _alphabet._SOFTMASKED.astype(np.uint8).tobytes()
_INVALID_BYTE = bytes([int(_alphabet._INVALID)])

PLAIN, GZIP, BGZF = "plain", "gzip", "bgzf"
_GZIP_MAGIC = b"\x1f\x8b"
# the empty block that ends every BGZF file (SAM spec 4.1.2); htslib checks for it too
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
# what gzip/zlib raise on a truncated or corrupt stream (BadGzipFile is an OSError)
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)
# what Bio.bgzf (under pyfaidx) raises on a damaged block: bad header, bad size, bad deflate data
_BGZF_FETCH_ERRORS = (*GZIP_ERRORS, ValueError, RuntimeError)


class FaiRecord(NamedTuple):
    """One `.fai` line: length, byte offset of the first base, bases per line, bytes per line."""

    length: int
    offset: int
    linebases: int
    linewidth: int


def preview_names(names, n: int = 5) -> str:
    """The first `n` record names, comma-separated, and how many there are when that is not all:
    what an error about an unknown record lists."""
    names = list(names)
    return ", ".join(names[:n]) + (f", ... ({len(names)} records)" if len(names) > n else "")


def default_cache_dir() -> Path:
    """`$GENOMAMBA_CACHE` if set, else `~/.cache/genomamba/fasta`."""
    env = os.environ.get("GENOMAMBA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "genomamba" / "fasta"


def detect_format(path: str | Path) -> str:
    """Return "plain", "gzip" or "bgzf" from the first bytes of the file (RFC 1952 + SAM spec 4.1)."""
    with open(path, "rb") as f:
        head = f.read(18)
    if head[:2] != _GZIP_MAGIC:
        return PLAIN
    # BGZF: a gzip member with FEXTRA set whose first extra subfield is 'BC' (block size).
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return BGZF
    return GZIP


def check_bgzf_eof(path: str | Path, source: str | None = None, error: type[GenomambaError] | None = None) -> None:
    """Raise `error` (default `FastaCorruptError`) unless the BGZF file `path` ends with the EOF block.

    Without this check a file cut at a block boundary reads as a valid, shorter file.
    """
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - len(BGZF_EOF)))
        tail = f.read()
    if tail != BGZF_EOF:
        raise (error or FastaCorruptError)(
            f"{source or path}: truncated BGZF file (no BGZF EOF block at its end); "
            f"re-copy or re-compress it with bgzip"
        )


@contextmanager
def _gzip_errors(source: str | Path, errors: tuple[type[BaseException], ...] = GZIP_ERRORS) -> Iterator[None]:
    """Turn gzip/zlib decoding `errors` inside the block into a one-line `FastaCorruptError`."""
    try:
        yield
    except errors as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FastaCorruptError(f"{source}: truncated or corrupt gzip data ({reason})") from None


# --------------------------------------------------------------------------------------------
# Streaming validator / indexer
# --------------------------------------------------------------------------------------------


def _scan_fasta(stream: Iterable[bytes], source: str) -> list[tuple[str, FaiRecord]]:
    """Validate a FASTA byte stream line by line and return its `.fai` records in file order.

    Memory is constant in sequence length (one entry per record). Offsets are in the bytes of
    `stream` (uncompressed bytes for gzip/BGZF, as samtools does).
    """
    records: list[tuple[str, FaiRecord]] = []
    seen: dict[str, int] = {}  # name -> header line, for duplicate messages
    pos = 0  # byte offset of the current line
    lineno = 0
    name: str | None = None
    header_line = 0
    offset = length = linebases = linewidth = 0
    short_line = 0  # line of a line that must be the record's last (shorter, blank or odd ending)

    def finish() -> None:
        if name is None:
            return
        if length == 0:
            raise FastaEmptyRecordError(
                f"{source}: line {header_line}: record {name!r} has a header and no sequence"
            )
        records.append((name, FaiRecord(length, offset, linebases, linewidth or linebases + 1)))

    for line in stream:
        lineno += 1
        n = len(line)
        if line[:1] == b">":
            finish()
            fields = line[1:].split(None, 1)
            if not fields:
                raise FastaFormatError(f"{source}: line {lineno}: header without a record name")
            name = fields[0].decode("utf-8", "replace")
            if name in seen:
                raise FastaDuplicateRecordError(
                    f"{source}: line {lineno}: record {name!r} already defined at line {seen[name]}"
                )
            seen[name] = header_line = lineno
            offset, length, linebases, linewidth, short_line = pos + n, 0, 0, 0, 0
            pos += n
            continue
        pos += n
        bases = n - (2 if line.endswith(b"\r\n") else 1 if line.endswith(b"\n") else 0)
        if bases == 0:
            if name is not None and length == 0:
                offset = pos  # blank lines between header and sequence: sequence starts later
            elif name is not None and not short_line:
                short_line = lineno  # blank lines may only trail a record
            continue
        if name is None:
            raise FastaNoHeaderError(f"{source}: line {lineno}: sequence before the first '>' header")
        if short_line:
            raise FastaLineLengthError(
                f"{source}: line {lineno}: record {name!r} continues after line {short_line}, which "
                f"is shorter/blank or ends differently; all lines but the last must be "
                f"{linebases} bases ending the same way"
            )
        if length == 0:
            linebases = bases
            linewidth = n if n > bases else 0  # 0: no line ending yet (last line of the file)
        elif bases > linebases:
            raise FastaLineLengthError(
                f"{source}: line {lineno}: record {name!r} has a {bases}-base line after "
                f"{linebases}-base lines (only the last line may differ, and only be shorter)"
            )
        elif bases < linebases or n != linewidth:
            short_line = lineno
        length += bases
    finish()
    if not records:
        raise FastaFormatError(f"{source}: no FASTA records found")
    return records


def _format_fai(records: list[tuple[str, FaiRecord]]) -> bytes:
    return "".join(f"{k}\t{r.length}\t{r.offset}\t{r.linebases}\t{r.linewidth}\n" for k, r in records).encode()


def index_fasta(
    path: str | Path, fai_path: str | Path | None = None, *, source: str | None = None
) -> Path:
    """Validate a FASTA file and write its samtools-compatible `.fai` atomically.

    Streams the file once, line by line (gzip/BGZF files are read decompressed and get
    uncompressed offsets, as `samtools faidx` writes them).

    Args:
        path: FASTA file (plain, gzip or BGZF).
        fai_path: where to write the index; default `<path>.fai`.
        source: name used in error messages; default `path`.

    Returns:
        The path of the written `.fai`.

    Raises:
        FastaNoHeaderError: sequence before the first `>` line.
        FastaEmptyRecordError: a header followed by no sequence.
        FastaDuplicateRecordError: two records with the same name.
        FastaLineLengthError: lines of a record differing in length other than the last one.
        FastaFormatError: a header without a name, or a file with no records.
        FastaCorruptError: a gzip/BGZF file that is truncated or corrupt.
    """
    path = Path(path)
    source = source or str(path)
    fai = Path(fai_path) if fai_path is not None else path.with_name(path.name + ".fai")
    fmt = detect_format(path)
    if fmt == BGZF:
        check_bgzf_eof(path, source)
    opener = gzip.open if fmt != PLAIN else open
    with opener(path, "rb") as f, _gzip_errors(source):
        records = _scan_fasta(f, source)
    atomic_write_bytes(fai, _format_fai(records))
    return fai


def read_fai(fai_path: str | Path) -> dict[str, FaiRecord]:
    """Read a `.fai` into {name: FaiRecord}, in file order."""
    out: dict[str, FaiRecord] = {}
    with open(fai_path) as f:
        for i, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < 5:
                if not line.strip():
                    continue
                raise FastaFormatError(f"{fai_path}: line {i}: expected 5 tab-separated fields")
            try:
                out[fields[0]] = FaiRecord(*map(int, fields[1:5]))
            except ValueError:
                raise FastaFormatError(f"{fai_path}: line {i}: non-integer field") from None
    return out


def _write_gzi(bgzf_path: Path, gzi_path: Path) -> None:
    """Write an htslib `.gzi`: count, then (compressed, uncompressed) start of every block but the first."""
    from Bio import bgzf

    with open(bgzf_path, "rb") as f:
        blocks = [(c, u) for c, _, u, ulen in bgzf.BgzfBlocks(f) if ulen]
    entries = blocks[1:]
    data = struct.pack("<Q", len(entries)) + b"".join(struct.pack("<QQ", c, u) for c, u in entries)
    atomic_write_bytes(gzi_path, data)


def _pread(fd: int, size: int, offset: int, lock: threading.Lock) -> bytes:
    """`os.pread` (no shared file position, so threads need no lock); seek + read where absent."""
    if _HAS_PREAD:
        return os.pread(fd, size, offset)
    with lock:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


_HAS_PREAD = hasattr(os, "pread")


def _is_fresh(index: Path, data: Path) -> bool:
    return index.exists() and index.stat().st_mtime >= data.stat().st_mtime


def _cache_key(path: Path) -> str:
    st = path.stat()
    key = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    return hashlib.sha256(key).hexdigest()[:20]


def _cached_name(path: Path, cache_dir: Path, suffix: str) -> Path:
    stem = path.name
    for ext in (".gz", ".bgz", ".bgzf"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    return cache_dir / f"{stem}.{_cache_key(path)}{suffix}"


def _gunzip_to_cache(path: Path, cache_dir: Path, progress: bool = True) -> Path:
    """Decompress a plain-gzip FASTA once into `cache_dir` (atomic; a byte progress bar unless
    `progress` is False). A truncated or corrupt file raises `FastaCorruptError`, leaving no copy."""
    out = _cached_name(path, cache_dir, ".fa")
    if out.exists():
        return out
    from genomamba.progress import stage

    cache_dir.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(out) as tmp,
        open(path, "rb") as raw,
        gzip.GzipFile(fileobj=raw) as gz,
        open(tmp, "wb") as dst,
        stage(f"gunzip {path.name}", path.stat().st_size, "B", enabled=progress, unit_scale=True) as bar,
        _gzip_errors(path),
    ):
        done = 0
        while chunk := gz.read(1 << 22):
            dst.write(chunk)
            bar(raw.tell() - done)
            done = raw.tell()
    return out


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------


class FastaReader:
    """Random access to one FASTA file (plain, BGZF or plain gzip) through its `.fai`.

    Coordinates are 0-based, end-exclusive. The index is read (built, validated, or for plain gzip
    the cached copy made) at construction; the file handle opens lazily in each process.

    Args:
        path: FASTA file.
        cache_dir: where indexes of read-only files and decompressed copies of plain-gzip files
            go; default `default_cache_dir()`.
        progress: show a progress bar while a plain-gzip file is decompressed (False: silent,
            as for a CLI's `-q`).

    Raises:
        FileNotFoundError: `path` does not exist.
        FastaFormatError (and subclasses): the file is malformed (see `index_fasta`).
        FastaCorruptError: a gzip/BGZF file that is truncated or corrupt.
    """

    def __init__(self, path: str | Path, cache_dir: str | Path | None = None, progress: bool = True) -> None:
        self._path = Path(path)
        self._cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        if not self._path.is_file():
            raise FileNotFoundError(f"FASTA file not found: {self._path}")
        self._format = detect_format(self._path)
        if self._format == BGZF:
            check_bgzf_eof(self._path)  # also when a fresh .fai means no index pass reads the file
        # the file actually read: the original, or the decompressed cached copy of a gzip file
        self._data_path = self._path
        if self._format == GZIP:
            self._data_path = _gunzip_to_cache(self._path, self._cache_dir, progress)
        self._fai_path = self._ensure_fai()
        self._gzi_path: Path | None = None
        if self._format == BGZF:
            self._gzi_path = self._ensure_gzi()
        self._index = read_fai(self._fai_path)
        self._names = list(self._index)
        self._lengths = {k: r.length for k, r in self._index.items()}
        self._pid: int | None = None
        self._fd: int | None = None
        self._faidx = None  # pyfaidx.Faidx, BGZF only
        self._lock = threading.Lock()

    # -- index management ---------------------------------------------------------------------
    def _ensure_fai(self) -> Path:
        data = self._data_path
        beside = data.with_name(data.name + ".fai")
        if _is_fresh(beside, data):
            return beside
        cached = _cached_name(self._path, self._cache_dir, ".fai")
        if data.parent != self._cache_dir and _is_fresh(cached, data):
            return cached
        try:
            return index_fasta(data, beside, source=str(self._path))
        except PermissionError:
            # read-only data directory (shared reference genomes): keep the index in the cache
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            return index_fasta(data, cached, source=str(self._path))

    def _ensure_gzi(self) -> Path:
        beside = self._path.with_name(self._path.name + ".gzi")
        if _is_fresh(beside, self._path):
            return beside
        try:
            _write_gzi(self._path, beside)
            return beside
        except PermissionError:
            cached = _cached_name(self._path, self._cache_dir, ".gzi")
            if not _is_fresh(cached, self._path):
                self._cache_dir.mkdir(parents=True, exist_ok=True)
                _write_gzi(self._path, cached)
            return cached

    # -- per-process handles ------------------------------------------------------------------
    def _open(self) -> None:
        self._close_handles()
        if self._format == BGZF:
            from pyfaidx import Faidx

            bgz = self._path
            if not bgz.name.lower().endswith((".gz", ".bgz")):
                # pyfaidx only treats *.gz / *.bgz as BGZF; give it a suffixed link to the file
                bgz = _cached_name(self._path, self._cache_dir, ".fa.gz")
                if not bgz.is_symlink():
                    self._cache_dir.mkdir(parents=True, exist_ok=True)
                    try:
                        bgz.symlink_to(self._path.resolve())
                    except FileExistsError:  # another worker made it first
                        pass
            self._faidx = Faidx(
                bgz, indexname=self._fai_path, gzi_indexname=self._gzi_path, as_raw=True,
                strict_bounds=True, sequence_always_upper=False, rebuild=False, build_index=False,
            )
        else:
            self._fd = os.open(self._data_path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._pid = os.getpid()

    def _close_handles(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        if self._faidx is not None and self._pid == os.getpid():
            self._faidx.close()
        self._fd = self._faidx = None
        self._pid = None

    def close(self) -> None:
        """Close the file handle (reopened lazily on the next fetch)."""
        self._close_handles()

    def __enter__(self) -> FastaReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._close_handles()
        except Exception:  # interpreter shutdown: nothing useful to do
            pass

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_pid=None, _fd=None, _faidx=None, _lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- public API -----------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The FASTA file as given (not the cached copy)."""
        return self._path

    @property
    def format(self) -> str:
        """"plain", "gzip" or "bgzf"."""
        return self._format

    @property
    def names(self) -> list[str]:
        """Record names in file order."""
        return list(self._names)

    @property
    def lengths(self) -> Mapping[str, int]:
        """{record name: length in bases}, in file order: a read-only view, not a copy (callers
        look lengths up per record; a copy each time made scoring 100,000 reads quadratic)."""
        return MappingProxyType(self._lengths)

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"FastaReader({str(self._path)!r}, format={self._format!r}, records={len(self._names)})"

    def _check(self, name: str, start: int, end: int) -> FaiRecord:
        rec = self._index.get(name)
        if rec is None:
            raise FastaFetchError(f"{self._path}: unknown record {name!r} in fetch [{start}, {end})")
        if not 0 <= start <= end <= rec.length:
            raise FastaFetchError(
                f"{self._path}: record {name!r}: [{start}, {end}) is outside [0, {rec.length}) "
                f"(0-based, end-exclusive)"
            )
        return rec

    def _fetch_bytes(self, name: str, start: int, end: int) -> bytes:
        start, end = operator.index(start), operator.index(end)
        rec = self._check(name, start, end)
        if start == end:
            return b""
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._open()
        if self._faidx is not None:
            with _gzip_errors(self._path, _BGZF_FETCH_ERRORS):
                return self._faidx.fetch(name, start + 1, end).encode("latin-1")
        lb, lw = rec.linebases, rec.linewidth
        b0 = rec.offset + (start // lb) * lw + start % lb
        b1 = rec.offset + (end // lb) * lw + end % lb
        data = _pread(self._fd, b1 - b0, b0, self._lock)
        if lw != lb:
            data = data.replace(b"\n", b"")
            if lw - lb == 2:
                data = data.replace(b"\r", b"")
        if len(data) != end - start:
            raise FastaFetchError(
                f"{self._path}: record {name!r}: read {len(data)} bases for [{start}, {end}); the "
                f"file is truncated or its index {self._fai_path} is stale"
            )
        return data

    def fetch(self, name: str, start: int, end: int) -> str:
        """Bases of `name[start:end]` as stored (soft-masked lowercase kept).

        Args:
            name: record name.
            start, end: 0-based, end-exclusive; `0 <= start <= end <= length`.

        Returns:
            A string of `end - start` characters.

        Raises:
            FastaFetchError: unknown record or out-of-bounds interval (names file, record, bounds).
        """
        return self._fetch_bytes(name, start, end).decode("latin-1")

    def fetch_tokens(
        self, name: str, start: int, end: int, return_softmask: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Tokens of `name[start:end]` (see `genomamba.alphabet`).

        Returns:
            tokens `[L]` uint8, and with `return_softmask` a bool `[L]` that is True on lowercase.

        Raises:
            FastaFetchError: unknown record or out-of-bounds interval.
            AlphabetError: a character that is not a base, naming file, record and position.
        """
        data = bytearray(self._fetch_bytes(name, start, end))  # bytearray: writable arrays
        tokens = data.translate(_TOKEN_TABLE)
        if _INVALID_BYTE in tokens:
            # slow path only to raise alphabet's error naming file, record and position
            encode(bytes(data), source=str(self._path), record=name, offset=int(start))
        tokens = np.frombuffer(tokens, np.uint8)
        if return_softmask:
            return tokens, np.frombuffer(data.translate(_SOFTMASK_TABLE), np.bool_)
        return tokens


class GenomeSet:
    """Several FASTA files presented as one namespace of records.

    Args:
        paths: FASTA files (any format `FastaReader` accepts).
        cache_dir, progress: passed to every `FastaReader`.

    Raises:
        FastaDuplicateRecordError: two files define the same record name (names both files).
    """

    def __init__(
        self, paths: Iterable[str | Path], cache_dir: str | Path | None = None, progress: bool = True
    ) -> None:
        self._readers = [FastaReader(p, cache_dir=cache_dir, progress=progress) for p in paths]
        self._owner: dict[str, FastaReader] = {}
        for reader in self._readers:
            for name in reader.names:
                other = self._owner.get(name)
                if other is not None:
                    raise FastaDuplicateRecordError(
                        f"record {name!r} is defined in both {other.path} and {reader.path}"
                    )
                self._owner[name] = reader
        self._lengths = {k: r.lengths[k] for r in self._readers for k in r.names}

    @property
    def readers(self) -> list[FastaReader]:
        return list(self._readers)

    @property
    def names(self) -> list[str]:
        """Record names, file by file in the order given."""
        return list(self._lengths)

    @property
    def lengths(self) -> Mapping[str, int]:
        """{record name: length} across all files (a read-only view, as `FastaReader.lengths`)."""
        return MappingProxyType(self._lengths)

    def __contains__(self, name: str) -> bool:
        return name in self._owner

    def __len__(self) -> int:
        return len(self._lengths)

    def reader_for(self, name: str) -> FastaReader:
        """The reader of the file that defines `name`; FastaFetchError if none does."""
        try:
            return self._owner[name]
        except KeyError:
            files = ", ".join(str(r.path) for r in self._readers)
            raise FastaFetchError(f"unknown record {name!r} (not in any of: {files})") from None

    def fetch(self, name: str, start: int, end: int) -> str:
        """See `FastaReader.fetch`."""
        return self.reader_for(name).fetch(name, start, end)

    def fetch_tokens(
        self, name: str, start: int, end: int, return_softmask: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """See `FastaReader.fetch_tokens`."""
        return self.reader_for(name).fetch_tokens(name, start, end, return_softmask)

    def close(self) -> None:
        for r in self._readers:
            r.close()

    def __enter__(self) -> GenomeSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
