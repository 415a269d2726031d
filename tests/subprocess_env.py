"""The environment a test's child process runs in."""

from __future__ import annotations

import os
from pathlib import Path


def with_pythonpath(first: Path, **extra: str) -> dict[str, str]:
    """This process's environment with `first` put ahead on PYTHONPATH, not in place of it: a
    host whose packages come in through PYTHONPATH (wheels carried to a GPU machine) keeps them."""
    path = os.pathsep.join(p for p in (str(first), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}
