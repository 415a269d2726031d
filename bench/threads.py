"""The machine's cores shared among the runs active in one results folder.

`bench run --jobs N` starts each run with cores // N torch threads. Without sharing, the last
run of a suite keeps that count after the others finish, and N-1 cores sit idle for its whole
length (the main suite's last LLM run spent 24 minutes alone on one of two cores). Each run
therefore leaves a marker `active/<key>.<pid>` in the results folder while it works, and at
safe points (a training batch, a chunk of evaluated users) sets its threads to
cores // (runs active now). Markers of processes that no longer exist are ignored and removed,
so a killed run cannot hold cores forever.

Only for runs on this machine: a Dask/Ray cluster or a distributed launch keeps fixed threads,
and so does an explicit `--threads`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class CoreShare:
    def __init__(self, results: Path, key: str, cores: int, interval_s: float = 2.0) -> None:
        self.folder = Path(results) / "active"
        self.marker = self.folder / f"{key}.{os.getpid()}"
        self.cores = max(1, cores)
        self.interval_s = interval_s
        self._checked = float("-inf")
        self.max_threads = 0

    def __enter__(self) -> "CoreShare":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.marker.touch()
        self.rebalance(force=True)
        return self

    def __exit__(self, *exc) -> None:
        self.marker.unlink(missing_ok=True)

    def active(self) -> int:
        n = 0
        for path in self.folder.iterdir():
            pid = path.suffix[1:]
            if not pid.isdigit():
                continue
            if _alive(int(pid)):
                n += 1
            else:
                path.unlink(missing_ok=True)
        return max(n, 1)

    def rebalance(self, force: bool = False) -> int:
        """Set this process's torch threads to its share of the cores; cheap enough to call
        every batch (the folder is looked at most once per `interval_s`)."""
        import torch

        now = time.monotonic()
        if force or now - self._checked >= self.interval_s:
            self._checked = now
            threads = max(1, self.cores // self.active())
            if threads != torch.get_num_threads():
                torch.set_num_threads(threads)
            self.max_threads = max(self.max_threads, threads)
        return torch.get_num_threads()
