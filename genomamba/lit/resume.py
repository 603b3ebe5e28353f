"""Resume a run with its own configuration: the values saved in its checkpoint win over today's
defaults, the keys the user overrides on the command line win over both, and every difference
is reported (so a resumed run never silently trains on other genomes or windows)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["restore_run_config"]

_ABSENT = object()


def _flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return out


def restore_run_config(
    current: Mapping[str, Any], saved: Mapping[str, Any], overridden: Iterable[str]
) -> tuple[dict[str, Any], list[str]]:
    """Merge a checkpoint's saved run configuration into today's.

    Args:
        current: today's configuration (plain nested dicts, interpolations resolved).
        saved: the configuration the checkpoint's run used (same layout).
        overridden: dotted keys or groups the user set on the command line (`trainer.max_steps`,
            `data`); a key under an overridden prefix keeps today's value.

    Returns:
        (the merged configuration, one line per key whose value differs between the two).
    """
    over = [o.lstrip("+~") for o in overridden]

    def is_overridden(key: str) -> bool:
        return any(key == o or key.startswith(o + ".") for o in over)

    now, then = _flatten(current), _flatten(saved)
    merged, notes = dict(now), []
    for key in sorted(set(now) | set(then)):
        a, b = now.get(key, _ABSENT), then.get(key, _ABSENT)
        if a == b or b is _ABSENT:
            continue  # same value, or a key the old run did not have
        if is_overridden(key):
            notes.append(f"{key}={a!r} (your override; the checkpoint's run had {b!r})")
        else:
            merged[key] = b
            was = "unset" if a is _ABSENT else repr(a)
            notes.append(f"{key}={b!r} (restored from the checkpoint's run; today's default is {was})")
    return _unflatten(merged), notes
