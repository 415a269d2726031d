"""RecBole export: a dataset's atomic files, and its leave-one-out split as RecBole benchmark
files. `sequential_split_rows` is the one writer of sequential `.inter` rows, shared with the
RecBole baselines (baselines/recbole/models.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.data.atomic import INTER_HEADER, Dataset
from bench.data.splits import leave_one_out
from bench.errors import UserError
from bench.io import atomic_write_text


# --------------------------------------------------------------------------- RecBole export


def export_atomic(dataset: Dataset, out: Path, split: bool = False, split_format: str = "plain") -> list[Path]:
    """Copy the dataset's atomic files to `out`; with `split`, add the leave-one-out split as
    RecBole benchmark files `<name>.{train,valid,test}.inter`.

    plain: (user_id, item_id, timestamp) rows, timestamps = positions in the user's sequence
    (train 0..n-3, valid n-2, test n-1); RecBole's general models load these.
    sequential: (user_id, item_id_list, item_id) rows, the form RecBole's sequential models
    need with `benchmark_filename` (train = every prefix of the training part -> next item)."""
    if split_format not in ("plain", "sequential"):
        raise ValueError(f"split_format must be 'plain' or 'sequential', not {split_format!r}")
    src = Path(dataset.source)
    sources = [src / f"{dataset.name}.{ext}" for ext in ("inter", "item")]
    if not sources[0].is_file():
        raise UserError(f"dataset {dataset.name!r} was not read from atomic files ({src}); nothing to export")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        if path.is_file():
            dest = out / path.name
            if dest.resolve() != path.resolve():
                atomic_write_text(dest, path.read_text(encoding="utf-8-sig"))
            written.append(dest)
    if split:
        s = leave_one_out(dataset)
        tok, users = dataset.item_ids, [dataset.user_ids[u] for u in s.user_index]
        parts = _split_rows_plain(s, tok, users) if split_format == "plain" else sequential_split_rows(s)
        for part, lines in parts.items():
            dest = out / f"{dataset.name}.{part}.inter"
            atomic_write_text(dest, "".join(lines))
            written.append(dest)
    return written


def _split_rows_plain(s, tok, users) -> dict[str, list[str]]:
    train = [INTER_HEADER + "\n"]
    for user, seq in zip([users[r] for r in s.train_users], s.training_sequences()):
        train += [f"{user}\t{tok[i - 1]}\t{t}\n" for t, i in enumerate(seq)]
    valid = [INTER_HEADER + "\n"] + [f"{u}\t{tok[v - 1]}\t{len(h)}\n" for u, h, v in zip(users, s.train, s.valid_target)]
    test = [INTER_HEADER + "\n"] + [f"{u}\t{tok[t - 1]}\t{len(h) + 1}\n" for u, h, t in zip(users, s.train, s.test_target)]
    return {"train": train, "valid": valid, "test": test}


def sequential_split_rows(split, max_seq_length: int | None = None, rows_per_user: int | None = None) -> dict[str, list[str]]:
    """The split as RecBole sequential benchmark rows (user_id, item_id_list, item_id), header
    first: train = the training part's prefixes -> next item (each training user's last
    `rows_per_user`, None: all; under a few-shot split only its training users have train rows),
    valid / test = every user's full history -> target; histories cut to their last
    `max_seq_length` items (None: whole)."""
    d = split.dataset
    tok = d.item_ids
    users = [d.user_ids[u] for u in split.user_index]
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"

    def row(user: str, history: Sequence[int], target: int) -> str:
        hist = history[-max_seq_length:] if max_seq_length else history
        return f"{user}\t{' '.join(tok[i - 1] for i in hist)}\t{tok[target - 1]}\n"

    train = [header]
    for user, seq in zip([users[r] for r in split.train_users], split.training_sequences()):
        first = 1 if rows_per_user is None else max(1, len(seq) - rows_per_user)
        train.extend(row(user, seq[:j], seq[j]) for j in range(first, len(seq)))
    valid = [header] + [row(u, h, t) for u, h, t in zip(users, split.histories("valid"), split.targets("valid"))]
    test = [header] + [row(u, h, t) for u, h, t in zip(users, split.histories("test"), split.targets("test"))]
    return {"train": train, "valid": valid, "test": test}
