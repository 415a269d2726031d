"""Cross-process locks on files under `<results>/locks/`: the runner's per-run lock, and the
caches a method fills once while other processes wait (FitContext.lock)."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def run_lock(results: Path, key: str, wait: bool = False):
    """Exclusive lock on `key` across processes; yields False when another process holds it,
    or, with `wait`, blocks until it is free and then yields True."""
    path = Path(results) / "locks" / f"{key}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
