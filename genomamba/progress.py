"""Progress of long stages, the one rule for every CLI and library loop: a `tqdm.auto` bar (total,
rate, ETA) on a terminal or in a notebook; otherwise (stderr to a file or a pipe) plain log lines
on stderr, one when a stage starts, one when it ends and one a minute in between, so a long run
never sits silent and a log file holds no `\\r` bar redraws. An update may carry a note (e.g. a
fold's seconds per method): it is printed as a line of its own, above the bar or as a stage line."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["stage", "interactive", "Progress"]

LOG_EVERY_S = 60.0


def interactive() -> bool:
    """True where `stage` draws a bar (a terminal or a notebook), False where it logs lines."""
    from tqdm.autonotebook import tqdm as auto_tqdm
    from tqdm.std import tqdm as std_tqdm

    if auto_tqdm is not std_tqdm:  # running in a notebook kernel: its stderr is no tty, the widget works
        return True
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


class Progress:
    """What `stage` yields: `update(n, note=None)` as `n` more are done; `reset(total)` when the
    total becomes known or changes (e.g. after `--resume` kept part of the work)."""

    def __call__(self, n: int, note: str | None = None) -> None:
        pass

    def reset(self, total: int | None) -> None:
        pass


class _Bar(Progress):
    def __init__(self, bar, desc: str, unit: str) -> None:
        self.bar, self.desc, self.unit = bar, desc, unit

    def __call__(self, n: int, note: str | None = None) -> None:
        self.bar.update(n)
        if note is not None:
            self.bar.write(f"{self.desc}: {self.bar.n}/{self.bar.total} {self.unit}: {note}", file=sys.stderr)

    def reset(self, total: int | None) -> None:
        self.bar.reset(total=total)


class _Lines(Progress):
    def __init__(self, desc: str, total: int | None, unit: str) -> None:
        self.desc, self.unit, self.total = desc, unit, None
        self.started = False
        self.reset(total)

    def _print(self, text: str) -> None:
        print(f"{self.desc}: {text}", file=sys.stderr, flush=True)

    def _of(self) -> str:
        return f"{self.done}/{self.total}" if self.total is not None else str(self.done)

    def reset(self, total: int | None) -> None:
        if self.started and total == self.total:
            return
        self.total, self.done = total, 0
        self.t0 = self.last = time.perf_counter()
        if total is not None:
            self._print(f"{total} {self.unit} ...")
            self.started = True

    def __call__(self, n: int, note: str | None = None) -> None:
        self.done += n
        now = time.perf_counter()
        if note is not None:
            self.last = now
            self._print(f"{self._of()} {self.unit}: {note}")
        elif now - self.last >= LOG_EVERY_S and (self.total is None or self.done < self.total):
            self.last = now
            rate = self.done / (now - self.t0)
            eta = (self.total - self.done) / rate if rate > 0 and self.total is not None else None
            self._print(f"{self._of()} {self.unit} ({rate:.1f}/s" + (f", ETA {eta:.0f} s)" if eta is not None else ")"))

    def close(self) -> None:
        self._print(f"{self._of()} {self.unit} done in {time.perf_counter() - self.t0:.1f} s")


@contextmanager
def stage(desc: str, total: int | None, unit: str, enabled: bool = True, unit_scale: bool = False) -> Iterator[Progress]:
    """Report one stage of `total` `unit`s (None: not known yet, see `Progress.reset`); yields a
    `Progress`, to call as more are done (a `note` is printed on a line of its own:
    `desc: done/total unit: note`).

    Args:
        desc: what the stage does (e.g. "vep-cv: features"). enabled: False: report nothing.
        unit_scale: the bar shows k/M/G multiples (bases, bytes).
    """
    if not enabled:
        yield Progress()
        return
    if interactive():
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=desc, unit=f" {unit}", unit_scale=unit_scale, dynamic_ncols=True,
                  file=sys.stderr) as bar:
            yield _Bar(bar, desc, unit)
        return
    lines = _Lines(desc, total, unit)
    yield lines
    lines.close()
