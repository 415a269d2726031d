"""What `bench report` wrote into each of its folders last time, so that a file it no longer
writes (a table a component stopped borrowing, a suite whose records are gone) does not linger
beside the fresh ones and read as current.

Each report folder holds a `.bench-report` list of the files the last build wrote there. Only
files named in that list are ever removed: anything else a user keeps in the folder is left
alone, and a folder without a list (written by an older version, or by hand) is never pruned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

MANIFEST = ".bench-report"


def _listed(folder: Path) -> list[str]:
    path = folder / MANIFEST
    if not path.is_file():
        return []
    try:
        names = json.loads(path.read_text())
    except (OSError, ValueError):
        return []  # an unreadable list names nothing we may delete
    # a name with a separator could point outside the folder: never ours to remove
    return [n for n in names if isinstance(n, str) and n == Path(n).name and n != MANIFEST] if isinstance(names, list) else []


def _remove(folder: Path, names: Iterable[str]) -> list[Path]:
    removed = []
    for name in names:
        path = folder / name
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def record_and_prune(out: Path, written: Sequence[Path], whole: bool) -> tuple[list[Path], list[Path]]:
    """Write each written-to folder's list and remove the files its previous list named that
    this build did not write. With `whole` (a build of every report, not one suite) a folder
    under `out` that this build did not write at all is emptied of its listed files too.
    Returns (the lists written, the files removed)."""
    from bench.io import atomic_write_text

    folders: dict[Path, set[str]] = {}
    for path in written:
        folders.setdefault(Path(path).parent, set()).add(Path(path).name)
    lists, removed = [], []
    for folder, names in sorted(folders.items()):
        removed += _remove(folder, sorted(set(_listed(folder)) - names))
        atomic_write_text(folder / MANIFEST, json.dumps(sorted(names), indent=0) + "\n")
        lists.append(folder / MANIFEST)
    if whole and Path(out).is_dir():
        for folder in sorted(p for p in Path(out).iterdir() if p.is_dir() and p not in folders and (p / MANIFEST).is_file()):
            removed += _remove(folder, _listed(folder))
            (folder / MANIFEST).unlink()
            if not any(folder.iterdir()):
                folder.rmdir()
    return lists, removed
