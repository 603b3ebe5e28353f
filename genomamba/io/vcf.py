"""Streaming VCF and TSV variant IO. Coordinates are 0-based, end-exclusive (half-open).

Accepted inputs (detected by content, not by extension):
    VCF          plain, gzip or bgzip; `##` meta lines and the `#CHROM` line are kept verbatim,
                 every record is yielded with its raw columns so a writer reproduces it exactly
                 apart from the FILTER and INFO edits it is asked to make.
    TSV          a header row naming at least chrom (`chrom`, `#chrom`, `chr`, `chromosome`,
                 `contig`, `record`, `seqname`), `pos` (`position`), `ref` and `alt`; POS is
                 1-based as in VCF; every other column is carried through untouched.

VCF POS (1-based) becomes a 0-based start in exactly one function, `pos_to_start`; its inverse
is `start_to_pos`. Multi-allelic records keep all their ALTs (`VariantRecord.alts`).

Output (`VcfWriter`, `TsvWriter`) is atomic (`genomamba.atomic.Output`): written to
`.<name>.partial` beside the target and moved onto it only when complete, so a failed run never
leaves half a file, and an interrupted one can be resumed (`resume=True`). `*.gz` output is
bgzip-compressed (VCF with a tabix index) when pysam is importable, else plain gzip without an
index (`VcfWriter.note` says which); an index that cannot be made removes any stale `.tbi`.
No torch here.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genomamba.atomic import Output
from genomamba.errors import VcfError
from genomamba.io.compress import compress_onto
from genomamba.io.fasta import BGZF, GZIP_ERRORS, PLAIN, check_bgzf_eof, detect_format

__all__ = [
    "VariantRecord", "VariantHeader", "read_variants", "read_vcf", "read_tsv", "pos_to_start",
    "start_to_pos", "parse_info", "format_info", "add_filter", "VcfWriter", "TsvWriter",
    "open_text", "is_vcf", "count_records", "info_key",
]

VCF_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
CHROM_NAMES = ("chrom", "#chrom", "chr", "chromosome", "contig", "record", "seqname")
POS_NAMES = ("pos", "position")


def pos_to_start(pos: str | int, *, source: str = "<variants>", line: int | None = None) -> int:
    """The one place a 1-based VCF/TSV POS becomes a 0-based start.

    Args:
        pos: the POS field (string or int), 1-based.
        source, line: file and 1-based line, named in the error.

    Returns:
        0-based start (`pos - 1`).

    Raises:
        VcfError: POS is not an integer >= 1.
    """
    try:
        value = int(pos)
    except (TypeError, ValueError):
        raise VcfError(f"{source}:{line}: POS {pos!r} is not an integer") from None
    if value < 1:
        raise VcfError(f"{source}:{line}: POS {value} must be >= 1 (VCF POS is 1-based)")
    return value - 1


def start_to_pos(start: int) -> int:
    """0-based start -> 1-based VCF POS (inverse of `pos_to_start`)."""
    return start + 1


@dataclass
class VariantRecord:
    """One input line: a variant with all of its ALTs and the raw columns to write back.

    Attributes:
        chrom: contig name. start: 0-based start of REF. ref: REF allele (as written).
        alts: ALT alleles (`[]` when ALT is `.`). source, line: file and 1-based line.
        fields: the raw columns of the line (VCF: 8 or more; TSV: every column).
        filters: FILTER values added by scoring (written to the FILTER column / a column).
        info: INFO key -> value added by scoring (e.g. `{"GM_LLR": "-1.2,."}`).
        ref_checked: REF already checked against the FASTA (the verdict is in `filters`).
    """

    chrom: str
    start: int
    ref: str
    alts: list[str]
    source: str
    line: int
    fields: list[str]
    filters: list[str] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    ref_checked: bool = False

    @property
    def end(self) -> int:
        """0-based, end-exclusive end of the REF allele."""
        return self.start + len(self.ref)

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class VariantHeader:
    """Header of a variant file: VCF meta lines + column line, or the TSV column names."""

    kind: str  # "vcf" or "tsv"
    meta: list[str]  # VCF `##` lines without newline; [] for TSV
    columns: list[str]  # VCF: the #CHROM line split on tabs; TSV: header names
    source: str

    def info_ids(self) -> dict[str, str]:
        """{INFO ID: Number} declared in the meta lines."""
        out = {}
        for line in self.meta:
            if line.startswith("##INFO=<"):
                attrs = _meta_attrs(line)
                if "ID" in attrs:
                    out[attrs["ID"]] = attrs.get("Number", ".")
        return out

    def contigs(self) -> list[str]:
        return [_meta_attrs(m).get("ID", "") for m in self.meta if m.startswith("##contig=<")]


def _meta_attrs(line: str) -> dict[str, str]:
    """`##INFO=<ID=X,Number=A,Description="a, b">` -> {"ID": "X", "Number": "A", ...}."""
    body = line[line.index("<") + 1 : line.rindex(">")] if "<" in line and ">" in line else ""
    out, key, buf, quoted = {}, None, [], False
    for ch in body + ",":
        if ch == '"':
            quoted = not quoted
        elif ch == "=" and key is None and not quoted:
            key, buf = "".join(buf), []
        elif ch == "," and not quoted:
            if key is not None:
                out[key] = "".join(buf)
            key, buf = None, []
        else:
            buf.append(ch)
    return out


class _GzipText:
    """Lines of a gzip/bgzip text file; a truncated or corrupt stream is a one-line `VcfError`."""

    def __init__(self, path: Path) -> None:
        self._path, self._fh, self._line = path, gzip.open(path, "rt", newline=""), 0

    def _guard(self, read):
        try:
            line = read()
        except GZIP_ERRORS as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise VcfError(f"{self._path}: truncated or corrupt gzip data after line {self._line} ({reason})") from None
        self._line += 1 if line else 0
        return line

    def readline(self) -> str:
        return self._guard(self._fh.readline)

    def read(self) -> str:
        return self._guard(self._fh.read)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> _GzipText:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_text(path: str | Path):
    """Open a plain, gzip or bgzip text file for reading (by magic bytes).

    Raises:
        FileNotFoundError: no such file. VcfError: a BGZF file without its EOF block (cut short at
            a block boundary, which would otherwise read as a valid shorter file), or, while
            reading, truncated or corrupt gzip data (both name the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"variant file not found: {path}")
    fmt = detect_format(path)
    if fmt == BGZF:
        check_bgzf_eof(path, error=VcfError)
    if fmt != PLAIN:
        return _GzipText(path)
    return open(path, "rt", newline="")


def is_vcf(path: str | Path) -> bool:
    """True when the file's first line starts with `##fileformat=VCF` or `#CHROM`."""
    with open_text(path) as fh:
        first = fh.readline()
    return first.startswith("##fileformat=VCF") or first.startswith("#CHROM\t")


def count_records(path: str | Path) -> int:
    """Data lines of a VCF or TSV (for a progress total): a fast line count, no parsing."""
    vcf = is_vcf(path)
    with open_text(path) as fh:
        n = sum(1 for line in fh if line.strip() and not line.startswith("#" if vcf else "##"))
    return n if vcf else max(n - 1, 0)


def read_variants(path: str | Path) -> tuple[VariantHeader, Iterator[VariantRecord]]:
    """Header and a record iterator of a VCF or TSV file (see the module docstring)."""
    return read_vcf(path) if is_vcf(path) else read_tsv(path)


def read_vcf(path: str | Path) -> tuple[VariantHeader, Iterator[VariantRecord]]:
    """Stream a VCF: returns the header at once and an iterator over its records.

    Raises:
        VcfError: no `#CHROM` line, a record with fewer than 8 columns, a bad POS, or an empty
            REF (names file and 1-based line).
    """
    source = str(path)
    fh = open_text(path)
    meta: list[str] = []
    columns: list[str] | None = None
    n = 0
    try:
        for raw in fh:
            n += 1
            line = raw.rstrip("\r\n")
            if line.startswith("##"):
                meta.append(line)
                continue
            if line.startswith("#CHROM"):
                columns = line.split("\t")
                if columns[:8] != VCF_COLUMNS:
                    raise VcfError(f"{source}:{n}: the column line must start with {' '.join(VCF_COLUMNS)}")
                break
            raise VcfError(f"{source}:{n}: expected '##' meta lines then the '#CHROM' line, got {line[:40]!r}")
    except BaseException:
        fh.close()
        raise
    if columns is None:
        fh.close()
        raise VcfError(f"{source}: no '#CHROM' header line")
    header = VariantHeader("vcf", meta, columns, source)

    def check(cols: list[str], line_no: int) -> None:
        if len(cols) < 8:
            raise VcfError(f"{source}:{line_no}: a VCF record needs 8 tab-separated columns, got {len(cols)}")

    return header, _records(fh, n, source, check, (0, 1, 3, 4), missing_alt=(".",))


def read_tsv(path: str | Path) -> tuple[VariantHeader, Iterator[VariantRecord]]:
    """Stream a TSV with a header row (chrom, pos (1-based), ref, alt + any other columns).

    ALT may list several alleles separated by commas. Lines starting with `##` before the header
    are skipped.

    Raises:
        VcfError: a missing required column, a short row or a bad POS (names file and line).
    """
    source = str(path)
    fh = open_text(path)
    n = 0
    columns: list[str] | None = None
    try:
        for raw in fh:
            n += 1
            line = raw.rstrip("\r\n")
            if line.startswith("##") or not line:
                continue
            columns = line.split("\t")
            break
        if columns is None:
            raise VcfError(f"{source}: empty file, expected a header row (chrom, pos, ref, alt)")
        lower = [c.lower() for c in columns]

        def find(names: Sequence[str], what: str) -> int:
            for name in names:
                if name in lower:
                    return lower.index(name)
            raise VcfError(f"{source}:{n}: no {what} column (one of {', '.join(names)}) in the header {columns}")

        ic, ip = find(CHROM_NAMES, "chromosome"), find(POS_NAMES, "position")
        ir, ia = find(("ref",), "REF"), find(("alt",), "ALT")
    except BaseException:
        fh.close()
        raise
    header = VariantHeader("tsv", [], columns, source)

    def check(cols: list[str], line_no: int) -> None:
        if len(cols) != len(columns):
            raise VcfError(f"{source}:{line_no}: {len(cols)} columns, the header has {len(columns)}")

    return header, _records(fh, n, source, check, (ic, ip, ir, ia), missing_alt=("", "."))


def _records(fh, line_no: int, source: str, check, columns: tuple[int, int, int, int],
             missing_alt: tuple[str, ...]) -> Iterator[VariantRecord]:
    """Records from the data lines of an open VCF or TSV whose header ended at `line_no`.

    `check(cols, line_no)` validates the column count; `columns` are the indices of chrom, pos,
    ref and alt; an ALT in `missing_alt` means no alternate allele.
    """
    ic, ip, ir, ia = columns
    with fh:
        for raw in fh:
            line_no += 1
            line = raw.rstrip("\r\n")
            if not line:
                continue
            cols = line.split("\t")
            check(cols, line_no)
            ref = cols[ir]
            if not ref or ref == ".":
                raise VcfError(f"{source}:{line_no}: empty REF allele")
            alts = [] if cols[ia] in missing_alt else cols[ia].split(",")
            start = pos_to_start(cols[ip], source=source, line=line_no)
            yield VariantRecord(cols[ic], start, ref, alts, source, line_no, cols)


# --------------------------------------------------------------------------------------------
# INFO / FILTER helpers
# --------------------------------------------------------------------------------------------


def parse_info(info: str) -> dict[str, str | bool]:
    """`A=1;B=x,y;FLAG` -> {"A": "1", "B": "x,y", "FLAG": True}; `.` -> {}."""
    if info in ("", "."):
        return {}
    out: dict[str, str | bool] = {}
    for item in info.split(";"):
        key, eq, value = item.partition("=")
        out[key] = value if eq else True
    return out


def format_info(info: dict[str, str | bool]) -> str:
    """Inverse of `parse_info`."""
    if not info:
        return "."
    return ";".join(k if v is True else f"{k}={v}" for k, v in info.items())


def add_filter(current: str, name: str) -> str:
    """Add a FILTER value: `.`/`PASS` are replaced, others kept (no duplicates)."""
    if current in ("", ".", "PASS"):
        return name
    parts = current.split(";")
    return current if name in parts else current + ";" + name


_ESCAPES = {"%": "%25", ";": "%3B", "=": "%3D", ",": "%2C", " ": "%20", "\t": "%09"}


def _escape_info_value(value: str) -> str:
    """Percent-encode the characters VCF forbids in INFO values (VCF 4.3 section 1.2)."""
    return "".join(_ESCAPES.get(c, c) for c in value) or "."


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------


class _Writer:
    """Shared by the writers: a resumable atomic `Output`; the file appears at `path` only when
    the block exits cleanly (`.gz`: bgzip/gzip, VCF also tabix-indexed).

    With `resume=True` an existing partial output (`.<name>.partial`, left by an interrupted run)
    whose header equals this run's is kept: its complete record lines stay, `resumed` says how
    many, and writing continues after them.
    """

    path: Path
    note: str
    resumed: int = 0

    def _open(self, path: str | Path, header_text: str, resume: bool) -> None:
        self.path = Path(path)
        self._out = Output(path, resumable=True)
        self._compress = not self._out.stream and self.path.name.endswith((".gz", ".bgz"))
        self.resumed = _resume_lines(self._out, header_text) if resume and not self._out.stream else 0
        if self.resumed or (resume and not self._out.stream and self._out.path.stat().st_size):
            self._fh = open(self._out.path, "a", newline="\n")
        else:
            self._fh = open(self._out.path, "w", newline="\n")
            self._fh.write(header_text)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._fh.close()
            self._out.discard(exc)
            return
        self.close()

    def close(self) -> None:
        """Finish the file: move it into place (compressing/indexing `.gz` output)."""
        if self._fh.closed:
            return
        self._fh.close()
        self._out.commit(self._finish if self._compress else None)

    def flush(self) -> None:
        self._fh.flush()

    def _finish(self, plain: Path, final: Path) -> None:
        self.note = compress_onto(plain, final)


def _resume_lines(out: Output, header_text: str) -> int:
    """Keep the complete lines of a partial output after `header_text`; returns their count."""
    data = out.path.read_bytes()
    if not data:
        return 0
    head = header_text.encode()
    if not data.startswith(head):
        raise VcfError(f"{out.path}: the partial output was written with other inputs or options; "
                       f"run without --resume to start again")
    keep = data.rfind(b"\n") + 1
    if keep < len(head):
        keep = len(head)
    with open(out.path, "r+b") as f:
        f.truncate(keep)  # drop a line cut short by the interruption
    return data[len(head) : keep].count(b"\n")


class VcfWriter(_Writer):
    """Write a VCF that keeps every input record and header line, adding FILTER/INFO edits.

    Use as a context manager; the file appears at `path` only on a clean exit.

    Args:
        path: output; `.gz` -> bgzip + tabix (with pysam) or gzip (without); `-` -> stdout.
        header: the input header (VCF meta lines kept verbatim; a TSV header becomes a minimal
            VCF header whose extra columns are INFO String fields).
        info_lines: `##INFO=<...>` lines for the fields scoring adds; an input line with the same
            ID is replaced (its values are overwritten too).
        filter_lines: `##FILTER=<...>` lines scoring may set.
        extra_meta: other `##` lines to add (e.g. the command that made the file).
        contigs: {name: length} written as `##contig` lines when the input declares none.
        resume: continue a partial output of an interrupted run (see `_Writer`).
    """

    def __init__(
        self,
        path: str | Path,
        header: VariantHeader,
        info_lines: Sequence[str] = (),
        filter_lines: Sequence[str] = (),
        extra_meta: Sequence[str] = (),
        contigs: dict[str, int] | None = None,
        resume: bool = False,
    ) -> None:
        self.header = header
        self.note = "plain text"
        self._tsv_extra: list[int] = []
        new_ids = {_meta_attrs(x)["ID"] for x in (*info_lines, *filter_lines)}
        meta: list[str] = []
        if header.kind == "vcf":
            meta = [m for m in header.meta if not (
                m.startswith(("##INFO=<", "##FILTER=<")) and _meta_attrs(m).get("ID") in new_ids)]
            columns = header.columns
        else:
            meta = ["##fileformat=VCFv4.2", f"##source_file={header.source}"]
            lower = [c.lower() for c in header.columns]
            self._tsv_cols = [_first(lower, CHROM_NAMES), _first(lower, POS_NAMES), lower.index("ref"), lower.index("alt")]
            self._tsv_extra = [i for i in range(len(header.columns)) if i not in set(self._tsv_cols)]
            for i in self._tsv_extra:
                meta.append(f'##INFO=<ID={info_key(header.columns[i])},Number=1,Type=String,'
                            f'Description="TSV column {header.columns[i]} of {Path(header.source).name}">')
            columns = VCF_COLUMNS
        if contigs and not any(m.startswith("##contig=<") for m in meta):
            meta += [f"##contig=<ID={k},length={v}>" for k, v in contigs.items()]
        meta += list(filter_lines) + list(info_lines) + list(extra_meta)
        if not meta or not meta[0].startswith("##fileformat="):
            meta.insert(0, "##fileformat=VCFv4.2")
        self._open(path, "".join(m + "\n" for m in meta) + "\t".join(columns) + "\n", resume)

    def write(self, rec: VariantRecord) -> None:
        """Write one record with `rec.filters` added to FILTER and `rec.info` set in INFO."""
        self._fh.write("\t".join(self.columns(rec)) + "\n")

    def columns(self, rec: VariantRecord) -> list[str]:
        """The 8+ VCF columns `write` would write for `rec`."""
        if self.header.kind == "vcf":
            cols = list(rec.fields)
        else:
            c, p, r, a = (rec.fields[i] for i in self._tsv_cols)
            info = {info_key(self.header.columns[i]): _escape_info_value(rec.fields[i]) for i in self._tsv_extra}
            cols = [c, p, ".", r, a or ".", ".", ".", format_info(info)]
        for f in rec.filters:
            cols[6] = add_filter(cols[6], f)
        if rec.info:
            info = parse_info(cols[7])
            for k, v in rec.info.items():
                info[k] = v
            cols[7] = format_info(info)
        return cols

    def _finish(self, plain: Path, final: Path) -> None:
        self.note = compress_onto(plain, final, tabix_preset="vcf")


class TsvWriter(_Writer):
    """Write a TSV: every input column, then `filter` and the scoring columns (atomic; `.gz`: bgzip)."""

    def __init__(self, path: str | Path, header: VariantHeader, score_keys: Sequence[str], resume: bool = False) -> None:
        if header.kind != "tsv":
            raise VcfError(f"{path}: TSV output needs a TSV input ({header.source} is a VCF); write a .vcf[.gz]")
        self.score_keys = list(score_keys)
        self.note = "plain text"
        self._open(path, "\t".join([*header.columns, "filter", *self.score_keys]) + "\n", resume)

    def write(self, rec: VariantRecord) -> None:
        cols = [*rec.fields, ";".join(rec.filters) or "PASS", *(rec.info.get(k, ".") for k in self.score_keys)]
        self._fh.write("\t".join(cols) + "\n")


def _first(lower: list[str], names: Sequence[str]) -> int:
    return next(lower.index(n) for n in names if n in lower)


def info_key(column: str) -> str:
    """A TSV column name as a valid INFO key ([A-Za-z_][0-9A-Za-z_.]*)."""
    key = "".join(c if c.isalnum() or c in "_." else "_" for c in column.lstrip("#")) or "_"
    return key if (key[0].isalpha() or key[0] == "_") else "_" + key
