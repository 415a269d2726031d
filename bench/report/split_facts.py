"""Per-user facts of the split a set of records was made on, which the records themselves do not
hold: each target's count in the training sequences and each user's history length.

Read from the split saved under `<results>/splits/` when it is there, else rebuilt from the
dataset with the split settings the records name; either way it must be the split the records
name by hash, or the facts are unavailable (and the reason says why)."""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UserError


@dataclass(frozen=True)
class SplitFacts:
    """In split row order, the order of every record's per-user ranks."""

    train_count: dict[str, tuple[int, ...]]  # stage -> the target's count in the training sequences (the training users')
    history: dict[str, tuple[int, ...]]  # stage -> items the user has before the target


def _facts(train: list[list], valid: list, test: list, trained: list[list] | None = None) -> SplitFacts:
    """`trained`: the sequences methods fit on, when not all of `train` (a few-shot split)."""
    counts = Counter(item for sequence in (train if trained is None else trained) for item in sequence)
    lengths = tuple(len(s) for s in train)
    return SplitFacts(
        {"valid": tuple(counts[t] for t in valid), "test": tuple(counts[t] for t in test)},
        {"valid": lengths, "test": tuple(n + 1 for n in lengths)},
    )


def _saved(results: Path, dataset: str, split_hash: str) -> SplitFacts | None:
    for path in sorted((Path(results) / "splits").glob(f"*-{split_hash}/split.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(payload, dict) and payload.get("hash") == split_hash and all(k in payload for k in ("train", "valid", "test")):
            trained = None
            if isinstance(payload.get("train_users"), list) and isinstance(payload.get("users"), list):
                chosen = set(payload["train_users"])
                trained = [s for u, s in zip(payload["users"], payload["train"]) if u in chosen]
            return _facts(payload["train"], payload["valid"], payload["test"], trained)
    return None


@functools.lru_cache(maxsize=8)
def _rebuilt(results: str, dataset: str, split_hash: str, settings: tuple) -> SplitFacts | str:
    from bench.data.datasets import load_dataset
    from bench.data.splits import SplitSettings, leave_one_out

    try:
        chosen = SplitSettings(**dict(settings))
        split = leave_one_out(load_dataset(dataset, k_core=chosen.k_core, results=results), chosen)
    except (UserError, OSError, TypeError) as exc:
        return f"split {split_hash} of {dataset} is not saved under results/splits and the dataset could not be read ({exc})"
    if split.hash != split_hash:
        return f"split {split_hash} of {dataset} is not saved under results/splits, and the dataset today gives split {split.hash}"
    return _facts([list(s) for s in split.train], list(split.valid_target), list(split.test_target), [list(s) for s in split.training_sequences()])


def split_facts(records: list[dict[str, Any]], results: Path | None) -> SplitFacts | str:
    """The facts of the one split `records` share, or why they are not available."""
    splits = {(r.get("dataset"), str(r.get("split_hash"))) for r in records}
    if len(splits) != 1:
        return f"the runs are on {len(splits)} splits, not one"
    if results is None:
        return "no results folder to read the split from"
    (dataset, split_hash), = splits
    saved = _saved(results, dataset, split_hash)
    if saved is not None:
        return saved
    settings = next((r.get("split_settings") for r in records if r.get("split_settings")), None) or {}
    return _rebuilt(str(results), dataset, split_hash, tuple(sorted(settings.items())))
