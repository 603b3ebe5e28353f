"""Progress of long evaluation stages: a `tqdm.auto` bar (total, rate, ETA) on a terminal or in a
notebook; otherwise (stderr to a file or a pipe) plain log lines on stderr, one when a stage
starts, one when it ends and one a minute in between, so a long run never sits silent. An update
may carry a note (e.g. a fold's seconds per method): it is printed as a line of its own, above
the bar or as a stage line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["stage"]

LOG_EVERY_S = 60.0


def _interactive() -> bool:
    from tqdm.autonotebook import tqdm as auto_tqdm
    from tqdm.std import tqdm as std_tqdm

    if auto_tqdm is not std_tqdm:  # running in a notebook kernel: its stderr is no tty, the widget works
        return True
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


@contextmanager
def stage(desc: str, total: int, unit: str, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Report one stage of `total` `unit`s; yields `update(n, note=None)`, to call as `n` more
    are done (a `note` is printed on a line of its own: `desc: done/total unit: note`).

    Args:
        desc: what the stage does (e.g. "vep-cv: features"). enabled: False: report nothing.
    """
    if not enabled:
        yield lambda n, note=None: None
        return
    if _interactive():
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=desc, unit=f" {unit}", dynamic_ncols=True) as bar:

            def bar_update(n: int, note: str | None = None) -> None:
                bar.update(n)
                if note is not None:
                    bar.write(f"{desc}: {bar.n}/{total} {unit}: {note}", file=sys.stderr)

            yield bar_update
        return
    t0 = last = time.perf_counter()
    done = 0
    print(f"{desc}: {total} {unit} ...", file=sys.stderr, flush=True)

    def update(n: int, note: str | None = None) -> None:
        nonlocal done, last
        done += n
        now = time.perf_counter()
        if note is not None:
            last = now
            print(f"{desc}: {done}/{total} {unit}: {note}", file=sys.stderr, flush=True)
        elif now - last >= LOG_EVERY_S and done < total:
            last = now
            rate = done / (now - t0)
            eta = (total - done) / rate if rate > 0 else float("inf")
            print(f"{desc}: {done}/{total} {unit} ({rate:.1f}/s, ETA {eta:.0f} s)", file=sys.stderr, flush=True)

    yield update
    dt = time.perf_counter() - t0
    print(f"{desc}: {done}/{total} {unit} done in {dt:.1f} s", file=sys.stderr, flush=True)
