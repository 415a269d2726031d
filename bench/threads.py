"""The machine's cores shared among the runs active in one results folder.

`bench run --jobs N` starts each run with cores // N torch threads. Without sharing, the last
run of a suite keeps that count after the others finish, and N-1 cores sit idle for its whole
length (the main suite's last LLM run spent 24 minutes alone on one of two cores). Each run
therefore leaves a marker `active/<key>.<pid>` in the results folder while it works, and at
safe points (a training batch, a chunk of evaluated users) sets its threads to
cores // (runs active now). Markers of processes that no longer exist are ignored and removed,
so a killed run cannot hold cores forever.

A run with an explicit `--threads` keeps its count, but leaves a marker too, with that count
written in it: the sharing runs divide only the cores it leaves (a 1-thread run beside a sharing
one on 2 cores, not 2 + 1 threads on 2 cores). Only for runs on this machine: a Dask/Ray cluster
or a distributed launch keeps fixed threads and leaves no marker.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.io import atomic_write_text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _held_threads(path: Path) -> int | None:
    """A marker's fixed thread count; 0 for a sharing run (an empty marker); None once its run
    has ended and removed it."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else 0


class CoreShare:
    """`fixed_threads`: this run keeps that many threads and only says so to the others."""

    def __init__(self, results: Path, key: str, cores: int, interval_s: float = 2.0, fixed_threads: int | None = None) -> None:
        self.folder = Path(results) / "active"
        self.marker = self.folder / f"{key}.{os.getpid()}"
        self.cores = max(1, cores)
        self.interval_s = interval_s
        self.fixed_threads = fixed_threads
        self._checked = float("-inf")
        self.max_threads = 0

    def __enter__(self) -> "CoreShare":
        # atomic: a sharing run never reads a fixed run's marker half-written (the temp file's
        # name ends in .tmp, not a pid, so the count skips it)
        atomic_write_text(self.marker, str(self.fixed_threads or ""))
        if self.fixed_threads is None:
            self.rebalance(force=True)
        return self

    def __exit__(self, *exc) -> None:
        self.marker.unlink(missing_ok=True)

    def runs_active(self) -> tuple[int, int]:
        """(sharing runs active, this one included; threads held by fixed-thread runs) in the
        results folder."""
        sharing, held = 0, 0
        for path in self.folder.iterdir():
            pid = path.suffix[1:]
            if not pid.isdigit():
                continue
            if _alive(int(pid)):
                fixed = _held_threads(path)
                if fixed is not None:
                    sharing += not fixed
                    held += fixed
            else:
                path.unlink(missing_ok=True)
        return max(sharing, 1), held

    def rebalance(self, force: bool = False) -> int:
        """Set this process's torch threads to its share of the cores that fixed-thread runs
        leave; cheap enough to call every batch (the folder is looked at most once per
        `interval_s`). A fixed-thread run keeps its count."""
        import torch

        now = time.monotonic()
        if self.fixed_threads is None and (force or now - self._checked >= self.interval_s):
            self._checked = now
            sharing, held = self.runs_active()
            threads = max(1, (self.cores - held) // sharing)
            if threads != torch.get_num_threads():
                torch.set_num_threads(threads)
            self.max_threads = max(self.max_threads, threads)
        return torch.get_num_threads()
