"""Atomic file output, the one home of the rule for every file genomamba writes.

A regular-file target is written to a temporary file beside it (same file system) and moved onto
it with `os.replace` only when the whole write succeeded, so an interrupted or failed run never
leaves half a file and never destroys the previous one. The rules around that:

- Mode: the file follows the umask (0666 & ~umask), like any other tool's output; mkstemp's 0600
  is not kept.
- Symbolic links are followed: the link's target is written atomically, the link itself is kept.
- Streams are written in place, never renamed over: `-` (stdout), FIFOs and device nodes.
- Resumable outputs (`Output(..., resumable=True)`) use the fixed temporary name
  `.<name>.partial` beside the target. An interruption (Ctrl-C, SIGTERM, kill -9) leaves it for
  `--resume`; a failure (an exception other than an interruption) removes it.
- `check_not_inputs` refuses an output that resolves to one of the run's inputs.
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from genomamba.errors import GenomambaError, OutputError

__all__ = [
    "STDOUT", "Terminated", "Output", "AtomicOutputs", "atomic_path", "atomic_write_text",
    "atomic_write_bytes", "is_stream", "check_not_inputs", "terminate_on_sigterm", "file_mode", "temp_beside",
    "partial_path", "kept_partials",
]

STDOUT = "-"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an exception so `finally` blocks and temporary-file cleanup run."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into `Terminated` (a KeyboardInterrupt), so cleanup runs as on Ctrl-C."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def file_mode() -> int:
    """The mode a new regular file gets from the umask: 0666 & ~umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def is_stream(target: str | Path) -> bool:
    """True for `-`, an existing FIFO or a device node: outputs written in place, not renamed."""
    if str(target) == STDOUT:
        return True
    try:
        mode = os.stat(target).st_mode  # follows symlinks: a link to /dev/null is a stream
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def temp_beside(target: Path, suffix: str = ".tmp") -> Path:
    """A fresh empty file `.<name>.*<suffix>` beside `target` (same file system, so a rename onto
    it is atomic), with the umask's mode rather than mkstemp's 0600."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    os.chmod(tmp, file_mode())
    return Path(tmp)


def partial_path(target: str | Path) -> Path:
    """Where a resumable output of `target` is written until it is complete: `.<name>.partial`
    beside the file `target` resolves to (what `--resume` continues)."""
    final = Path(os.path.realpath(target))
    return final.with_name(f".{final.name}.partial")


def kept_partials(exc: BaseException) -> list[Path]:
    """The `.partial` files an interruption `exc` left for `--resume` (each `Output` it passed
    through that kept its file added it), in the order they were opened."""
    return list(getattr(exc, "partials", ()))


class Output:
    """One output file of a run: where to write it now (`path`) and how to finish it (`commit`).

    Args:
        target: the final path, or `-` for stdout.
        resumable: use the fixed temporary name `.<name>.partial` (kept after an interruption
            so `--resume` can continue it) instead of a fresh random one.
        suffix: suffix of a random temporary name.
    """

    def __init__(self, target: str | Path, *, resumable: bool = False, suffix: str = ".tmp") -> None:
        self.target = str(target)
        self.stream = is_stream(target)
        if self.stream:
            self.final = Path("/dev/stdout") if self.target == STDOUT else Path(target)
            self.path = self.final
            return
        self.final = Path(os.path.realpath(target))  # a symlink's target is what gets replaced
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            if resumable:
                self.path = partial_path(self.final)
                if not self.path.exists():
                    self.path.touch()
            else:
                self.path = temp_beside(self.final, suffix)
            os.chmod(self.path, file_mode())
        except PermissionError:
            raise OutputError(f"{target}: cannot write there (no write permission on {self.final.parent})") from None
        self.resumable = resumable

    def commit(self, finish: Callable[[Path, Path], None] | None = None) -> None:
        """Move the finished file onto the target (or let `finish(tmp, final)` do it, e.g. compress)."""
        if self.stream:
            return
        try:
            if finish is None:
                os.replace(self.path, self.final)
            else:
                finish(self.path, self.final)
        finally:
            self.path.unlink(missing_ok=True)

    def discard(self, exc: BaseException | None = None) -> None:
        """Remove the temporary file; a resumable one survives an interruption (`exc` a
        KeyboardInterrupt or `Terminated`), which then lists it (`kept_partials`)."""
        if self.stream:
            return
        if self.resumable and isinstance(exc, KeyboardInterrupt):
            exc.partials = [*kept_partials(exc), self.path]
            return
        self.path.unlink(missing_ok=True)


class AtomicOutputs:
    """Several outputs of one run: all committed when the block exits cleanly, else all discarded.

    `add(target, finish=...)` returns the `Output`; write to its `path`. Outputs are committed in
    the order they were added.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Output, Callable[[Path, Path], None] | None]] = []

    def add(self, target: str | Path, *, resumable: bool = False,
            finish: Callable[[Path, Path], None] | None = None) -> Output:
        out = Output(target, resumable=resumable)
        self._pending.append((out, finish))
        return out

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                for out, finish in self._pending:
                    out.commit(finish)
            except BaseException:
                for out, _ in self._pending:
                    out.discard()
                raise
            return
        for out, _ in self._pending:
            out.discard(exc)


@contextmanager
def atomic_path(target: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `target`; on a clean exit it replaces `target` (a stream
    target is yielded itself), on an exception it is deleted."""
    out = Output(target, suffix=suffix)
    try:
        yield out.path
    except BaseException:
        out.discard()
        raise
    out.commit()


def atomic_write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_not_inputs(outputs: dict[str, str | Path | None], inputs: Iterable[str | Path]) -> None:
    """Refuse an output that is (by resolved path) one of the run's inputs.

    Args:
        outputs: {option name: path} (None entries skipped; `-` and device nodes allowed).
        inputs: input files; a directory (a model directory) stands for itself and its files,
            and a FASTA for its `.fai` / `.gzi` indexes too.

    Raises:
        GenomambaError: naming the option and the input it would overwrite.
    """
    guarded: list[Path] = []
    for p in map(Path, inputs):
        guarded.append(p)
        if p.is_dir():
            guarded += [q for q in p.iterdir() if q.is_file()]
        else:
            guarded += [p.with_name(p.name + ext) for ext in (".fai", ".gzi", ".tbi", ".csi")]
    for option, target in outputs.items():
        if target is None or str(target) == STDOUT or is_stream(target):
            continue
        for p in guarded:
            if (p.exists() or Path(target).exists()) and _same(Path(target), p):
                raise GenomambaError(f"{option} {target}: that is an input of this run ({p}); "
                                     f"choose another output name")
