"""The one atomic write: a temp file (or folder) beside the target, then a rename.

A reader never sees half a file, and a write that fails (an exception, a kill) leaves the old
file as it was and no temp file behind, beyond a hidden `.NAME.*.tmp` of a killed process.
Records, splits, checkpoints, caches, RecBole saves, imported datasets and the converted
backbone all go through `atomic_path`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path | str, folder: bool = False) -> Iterator[Path]:
    """Yield a temp path beside `path` to write into (a file, or with `folder` a folder); when
    the block ends normally it replaces `path`, otherwise it is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    else:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if folder:
            _replace_folder(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        if folder:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def _replace_folder(tmp: Path, target: Path) -> None:
    """A folder cannot be replaced in one rename: move the old one aside, rename, drop the old."""
    tmp.chmod(0o755)
    old = None
    if target.exists():
        old = target.with_name(f"{tmp.name}.old")
        os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        if old is not None and old.exists() and not target.exists():
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def fsync_file(fh) -> None:
    """Flush an open file to the disk: a rename that makes it visible must not outrun its bytes."""
    fh.flush()
    os.fsync(fh.fileno())


def write_synced(path: Path, text: str) -> None:
    """Write text (UTF-8, "\\n" line ends) and fsync it before the rename makes it visible."""
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fsync_file(fh)


def atomic_write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        write_synced(tmp, text)


def atomic_torch_save(obj, path: Path | str) -> None:
    import torch

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fsync_file(fh)
