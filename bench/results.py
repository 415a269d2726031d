"""Run records: one JSON file per run, written atomically, keyed by a content hash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.io import atomic_write_text

RECORD_FORMAT = 1
WEIGHTS_FORMAT = 1  # the layout of a kept-weights file: {"format", "weights", "item_weights"}


def runs_dir(results: Path) -> Path:
    return Path(results) / "runs"


def _path_part(text: str) -> str:
    """One safe path component: a dataset given as a path (`/data/toy`) must not escape runs/."""
    part = text.replace("/", "__").replace("\\", "__")
    return part if part.strip(".") else part.replace(".", "_") or "_"


def record_path(results: Path, dataset: str, name: str, key: str) -> Path:
    return runs_dir(results) / _path_part(dataset) / f"{_path_part(name)}-{key}.json"


def weights_path(results: Path, dataset: str, name: str, key: str) -> Path:
    """A finished run's kept trainable weights (`Method.kept_weights`), beside its record's name."""
    return Path(results) / "weights" / _path_part(dataset) / f"{_path_part(name)}-{key}.pt"


def save_weights(path: Path, kept: dict[str, Any]) -> dict[str, Any]:
    """Write a method's `kept_weights()` atomically; -> what the record says of the file."""
    from bench.io import atomic_torch_save

    atomic_torch_save({"format": WEIGHTS_FORMAT, **kept}, path)
    values = sum(t.numel() for part in kept.values() if isinstance(part, dict) for t in part.values())
    return {"values": int(values), "bytes": Path(path).stat().st_size}


def find_weights(results: Path, dataset: str, key: str) -> Path | None:
    """The kept-weights file of the run with `key`, whatever its display name; None if none."""
    found = sorted((Path(results) / "weights" / _path_part(dataset)).glob(f"*-{key}.pt"))
    return found[0] if found else None


def load_weights(path: Path) -> dict[str, Any]:
    import torch

    if not Path(path).exists():
        raise UserError(f"{path}: no kept weights for this run (runs finished before weights were kept must be retrained: bench run --force)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"{path}: corrupt weights file ({type(exc).__name__}); retrain the run with bench run --force") from None
    if blob.get("format") != WEIGHTS_FORMAT:
        raise UserError(f"{path}: weights format {blob.get('format')!r}, this code reads {WEIGHTS_FORMAT}; retrain the run with bench run --force")
    return {k: v for k, v in blob.items() if k != "format"}


def write_record(path: Path, record: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True))


def train_fraction(record: dict[str, Any]) -> float:
    """The share of users the record's run trained on (1.0 unless its split is few-shot)."""
    return float((record.get("split_settings") or {}).get("train_fraction", 1.0))


def wall_seconds(record: dict[str, Any]) -> float | None:
    """A run's wall time: training and evaluation (`timings.total_s`) plus its attribution
    probes, which the same `bench run` does after evaluating (`timings.probe_s`)."""
    timings = record.get("timings") or {}
    total = timings.get("total_s")
    if not isinstance(total, (int, float)):
        return None
    return float(total) + float(timings.get("probe_s") or 0.0)


def is_main_run(record: dict[str, Any]) -> bool:
    """A run of a suite's own configuration on all its training users: not an ablation variant,
    not on a few-shot split (its accuracy is not the full-data run's, and it shares names and
    seeds with the main suite's runs)."""
    return not (record.get("tags") or {}).get("component") and train_fraction(record) == 1.0


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
