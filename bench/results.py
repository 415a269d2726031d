"""Run records: one JSON file per run, written atomically, keyed by a content hash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.io import atomic_write_text

RECORD_FORMAT = 1


def runs_dir(results: Path) -> Path:
    return Path(results) / "runs"


def _path_part(text: str) -> str:
    """One safe path component: a dataset given as a path (`/data/toy`) must not escape runs/."""
    part = text.replace("/", "__").replace("\\", "__")
    return part if part.strip(".") else part.replace(".", "_") or "_"


def record_path(results: Path, dataset: str, name: str, key: str) -> Path:
    return runs_dir(results) / _path_part(dataset) / f"{_path_part(name)}-{key}.json"


def write_record(path: Path, record: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True))


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: run record not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: corrupt run record ({type(exc).__name__}: {exc})") from None
    if not isinstance(record, dict) or "status" not in record or "key" not in record:
        raise UserError(f"{path}: corrupt run record (no status/key)")
    return record


def iter_records(results: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = runs_dir(results)
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.json")):
        yield path, read_record(path)
