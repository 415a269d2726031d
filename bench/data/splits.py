"""Leave-one-out splits by time, computed once and saved so every method reads the same files.

For each user's chronological sequence s: training input s[:-2], validation target s[-2]
(history s[:-2]), test target s[-1] (history s[:-1]). Users with fewer than 3 interactions
cannot be split; they are an error unless `drop_short_users` is set.

Few-shot (`train_fraction` < 1, the paper's Fig. 3): methods fit on the training sequences of a
seeded subset of the users only (`Split.training_sequences`), drawn once here, saved with the
split and so shared by every method and run seed. Validation and test keep every user, each
scored from their own history (`Split.histories`): a user outside the subset is never trained
on, but their s[:-2] is still the input their validation and test targets are predicted from.
"""

from __future__ import annotations

import json
import math
import random
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
    # few-shot: the share of the split's users whose training sequences methods fit on (1.0: all),
    # drawn with `train_fraction_seed`, a setting of the split and not of a run: every method and
    # every run seed of a suite sees the same users
    train_fraction: float = 1.0
    train_fraction_seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.k_core, int) or self.k_core < 0:
            raise UserError(f"split setting k_core must be a non-negative integer, got {self.k_core!r}")
        f = self.train_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f) or not 0 < f <= 1:
            raise UserError(f"split setting train_fraction must be a number in (0, 1] (the share of users trained on, e.g. 0.05), got {f!r}")
        object.__setattr__(self, "train_fraction", float(f))  # 1 and 1.0 are one split
        seed = self.train_fraction_seed
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise UserError(f"split setting train_fraction_seed must be a non-negative integer, got {seed!r}")

    @property
    def few_shot(self) -> bool:
        return self.train_fraction < 1.0

    def hashed(self) -> dict:
        """The settings as the split hash reads them: the few-shot keys only when they select a
        subset, so that every split made before they existed keeps its hash (and its runs their keys)."""
        values = asdict(self)
        if not self.few_shot:
            del values["train_fraction"], values["train_fraction_seed"]
        return values


def n_training_users(n_users: int, fraction: float) -> int:
    """round(fraction * n_users), halves rounded up, and at least one user."""
    return max(1, min(n_users, math.floor(fraction * n_users + 0.5)))


def draw_training_users(n_users: int, fraction: float, seed: int) -> tuple[int, ...]:
    """The split rows trained on, ascending: the first `n_training_users` of one seeded shuffle of
    the rows, so that with the same seed a smaller fraction's users are among a larger one's."""
    if fraction >= 1.0:
        return tuple(range(n_users))
    order = list(range(n_users))
    random.Random(f"train-users-{seed}").shuffle(order)
    return tuple(sorted(order[: n_training_users(n_users, fraction)]))


@dataclass(frozen=True)
class Split:
    dataset: Dataset
    user_index: tuple[int, ...]  # dataset user index of each split row
    # every user's training part s[:-2]: the base of every user's evaluation history. What a
    # method fits on is `training_sequences()`, which is these of the training users only.
    train: tuple[tuple[int, ...], ...]
    valid_target: tuple[int, ...]
    test_target: tuple[int, ...]
    settings: SplitSettings
    hash: str
    train_users: tuple[int, ...]  # the split rows whose training parts methods fit on (all unless few-shot)

    @property
    def n_items(self) -> int:
        return self.dataset.n_items

    @property
    def n_users(self) -> int:
        return len(self.user_index)

    @property
    def n_train_users(self) -> int:
        return len(self.train_users)

    def training_sequences(self) -> list[tuple[int, ...]]:
        """The sequences a method may fit on (its training rows, counts, pre-training), and the
        only ones: the training users' training parts. Under a few-shot split the other users'
        parts are evaluation inputs only (`histories`). The item universe stays the dataset's
        (every item is ranked); an item no training user has is simply never a training signal."""
        return [self.train[r] for r in self.train_users]

    def histories(self, stage: str) -> list[tuple[int, ...]]:
        """What a method may see when predicting the `stage` target, for every user (training
        users or not): evaluation inputs, never training data."""
        if stage == "valid":
            return list(self.train)
        if stage == "test":
            return [t + (v,) for t, v in zip(self.train, self.valid_target)]
        raise ValueError(f"stage must be 'valid' or 'test', not {stage!r}")

    def targets(self, stage: str) -> list[int]:
        return list(self.valid_target if stage == "valid" else self.test_target)


def train_item_counts(split: Split):
    """How often each item occurs in the split's training sequences (the training users' only):
    int64 [n_items + 1], index 0 (padding) always 0. Validation and test targets are not counted:
    they are what is predicted, and no method's fit sees them as training data."""
    from itertools import chain

    import numpy as np

    items = np.fromiter(chain.from_iterable(split.training_sequences()), dtype=np.int64)
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
    split_hash = content_hash({"data": dataset.content_hash, "settings": settings.hashed(), "format": SPLIT_FORMAT}, 16)
    train_users = draw_training_users(len(rows), settings.train_fraction, settings.train_fraction_seed)
    return Split(dataset, tuple(rows), tuple(train), tuple(valid), tuple(test), settings, split_hash, train_users)


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
            "settings": split.settings.hashed(),
            "users": [d.user_ids[u] for u in split.user_index],
            "train": [[d.item_ids[i - 1] for i in s] for s in split.train],
            "valid": [d.item_ids[i - 1] for i in split.valid_target],
            "test": [d.item_ids[i - 1] for i in split.test_target],
        }
        if split.settings.few_shot:  # absent: every user trains (a full split's file stays as it was)
            payload["train_users"] = [d.user_ids[split.user_index[r]] for r in split.train_users]
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
    saved_users = payload.get("train_users")
    if saved_users is not None and (not isinstance(saved_users, list) or not all(isinstance(u, str) for u in saved_users)):
        raise UserError(f"{path}: corrupt split file (train_users must be a list of user ids); delete it to rebuild")
    users = [d.user_ids[u] for u in split.user_index]
    training = [users[r] for r in split.train_users]
    if (train, valid, test) != (split.train, split.valid_target, split.test_target) or (users if saved_users is None else saved_users) != training:
        raise UserError(f"{path}: saved split differs from the data it claims to come from; delete it to rebuild")
    return split

