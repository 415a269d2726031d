"""What a test run must leave as it found it: the checkout's tracked and untracked files as git
sees them, and every file under reports/ and results/, ignored caches included (a CLI call
without --results or --out writes there, relative to the working directory)."""

from __future__ import annotations

import subprocess
from pathlib import Path

WATCHED = ("reports", "results")


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def checkout_state(root: Path) -> dict[str, object]:
    """{what: signature}; a rewrite with identical bytes still changes the signature (mtime)."""
    state: dict[str, object] = {}
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True)
    except OSError:  # no git: only the watched folders count
        status = None
    if status is not None and status.returncode == 0:  # outside a git checkout likewise
        for line in status.stdout.splitlines():
            path = line[3:].split(" -> ")[-1].strip('"')
            state[f"git status: {line}"] = _signature(root / path)
    for folder in WATCHED:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                state[path.relative_to(root).as_posix()] = _signature(path)
    return state


def changes(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
