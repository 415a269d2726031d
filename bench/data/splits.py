"""Leave-one-out splits by time, computed once and saved so every method reads the same files.

For each user's chronological sequence s: training input s[:-2], validation target s[-2]
(history s[:-2]), test target s[-1] (history s[:-1]). Users with fewer than 3 interactions
cannot be split; they are an error unless `drop_short_users` is set.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.configs import content_hash
from bench.data.atomic import Dataset
from bench.errors import UserError
from bench.io import atomic_write_text

SPLIT_FORMAT = 1


@dataclass(frozen=True)
class SplitSettings:
    drop_short_users: bool = False
    k_core: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.k_core, int) or self.k_core < 0:
            raise UserError(f"split setting k_core must be a non-negative integer, got {self.k_core!r}")


@dataclass(frozen=True)
class Split:
    dataset: Dataset
    user_index: tuple[int, ...]  # dataset user index of each split row
    train: tuple[tuple[int, ...], ...]  # training sequence per user
    valid_target: tuple[int, ...]
    test_target: tuple[int, ...]
    settings: SplitSettings
    hash: str

    @property
    def n_items(self) -> int:
        return self.dataset.n_items

    @property
    def n_users(self) -> int:
        return len(self.user_index)

    def histories(self, stage: str) -> list[tuple[int, ...]]:
        """What a method may see when predicting the `stage` target."""
        if stage == "valid":
            return list(self.train)
        if stage == "test":
            return [t + (v,) for t, v in zip(self.train, self.valid_target)]
        raise ValueError(f"stage must be 'valid' or 'test', not {stage!r}")

    def targets(self, stage: str) -> list[int]:
        return list(self.valid_target if stage == "valid" else self.test_target)


def train_item_counts(split: Split):
    """How often each item occurs in the split's training sequences: int64 [n_items + 1],
    index 0 (padding) always 0. Validation and test targets are not counted: they are what
    is predicted, and no method's fit sees them as training data."""
    from itertools import chain

    import numpy as np

    items = np.fromiter(chain.from_iterable(split.train), dtype=np.int64)
    return np.bincount(items, minlength=split.n_items + 1)


def leave_one_out(dataset: Dataset, settings: SplitSettings = SplitSettings()) -> Split:
    rows, train, valid, test = [], [], [], []
    short = [dataset.user_ids[u] for u, s in enumerate(dataset.sequences) if len(s) < 3]
    if short and not settings.drop_short_users:
        raise UserError(
            f"dataset {dataset.name!r}: {len(short)} user(s) have fewer than 3 interactions and cannot be "
            f"split leave-one-out (first: {short[0]!r}); set drop_short_users: true or use k_core >= 3"
        )
    for u, seq in enumerate(dataset.sequences):
        if len(seq) < 3:
            continue
        rows.append(u)
        train.append(tuple(seq[:-2]))
        valid.append(seq[-2])
        test.append(seq[-1])
    if not rows:
        raise UserError(f"dataset {dataset.name!r}: no user has 3 or more interactions")
    split_hash = content_hash({"data": dataset.content_hash, "settings": asdict(settings), "format": SPLIT_FORMAT}, 16)
    return Split(dataset, tuple(rows), tuple(train), tuple(valid), tuple(test), settings, split_hash)


def split_dir(results: Path, split: Split) -> Path:
    return Path(results) / "splits" / f"{split.dataset.name}-{split.hash}"


def save_split(results: Path, split: Split) -> Path:
    """Persist the split (idempotent); the saved file is what methods and audits read back."""
    out = split_dir(results, split)
    path = out / "split.json"
    if not path.exists():
        d = split.dataset
        payload = {
            "format": SPLIT_FORMAT,
            "hash": split.hash,
            "dataset": d.name,
            "data_hash": d.content_hash,
            "settings": asdict(split.settings),
            "users": [d.user_ids[u] for u in split.user_index],
            "train": [[d.item_ids[i - 1] for i in s] for s in split.train],
            "valid": [d.item_ids[i - 1] for i in split.valid_target],
            "test": [d.item_ids[i - 1] for i in split.test_target],
        }
        atomic_write_text(path, json.dumps(payload))
    return out


def load_saved_split(results: Path, split: Split) -> Split:
    """Read the saved split back and check it is the one this data produces (no silent drift)."""
    path = split_dir(results, split) / "split.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable split file ({type(exc).__name__}: {exc}); delete it to rebuild") from None
    if not isinstance(payload, dict) or payload.get("format") != SPLIT_FORMAT:
        raise UserError(f"{path}: corrupt split file (not a format-{SPLIT_FORMAT} split object); delete it to rebuild")
    missing = [k for k in ("train", "valid", "test") if k not in payload]
    if missing:
        raise UserError(f"{path}: corrupt split file (no {', '.join(missing)}); delete it to rebuild")
    d = split.dataset
    index = {tok: i + 1 for i, tok in enumerate(d.item_ids)}
    try:
        train = tuple(tuple(index[t] for t in s) for s in payload["train"])
        valid = tuple(index[t] for t in payload["valid"])
        test = tuple(index[t] for t in payload["test"])
    except KeyError as exc:
        raise UserError(f"{path}: corrupt split file (item {exc.args[0]!r} is not in dataset {d.name!r}); delete it to rebuild") from None
    except TypeError:
        raise UserError(f"{path}: corrupt split file (train, valid, test must be lists of item ids); delete it to rebuild") from None
    if (train, valid, test) != (split.train, split.valid_target, split.test_target):
        raise UserError(f"{path}: saved split differs from the data it claims to come from; delete it to rebuild")
    return split

