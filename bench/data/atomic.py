"""Datasets: interaction sequences plus item text, read from RecBole atomic files.

Ordering rule (stated, deterministic): each user's interactions are sorted by timestamp;
rows with equal timestamps keep the order in which they appear in the `.inter` file (a
stable sort). Half of ml-100k's rows share a (user, timestamp) with another row, so this
rule decides real sequence positions; changing it changes the data hash.

Duplicates: rows that repeat an earlier row's (user, item, timestamp) are dropped, the first
kept; `Dataset.duplicates_dropped` says how many. They are not an error.

Item indices are 1..n_items in sorted order of the original item tokens; 0 is padding.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import UserError

TIME_FIELD_CANDIDATES = ("timestamp", "unixReviewTime", "time")
# the `.inter` header the importers and the RecBole export write (here, with the format they
# write, so neither imports the other)
INTER_HEADER = "user_id:token\titem_id:token\ttimestamp:float"


@dataclass(frozen=True)
class Dataset:
    name: str
    user_ids: tuple[str, ...]  # original user tokens, index u -> token
    item_ids: tuple[str, ...]  # original item tokens, index i-1 -> token (index 0 is padding)
    sequences: tuple[tuple[int, ...], ...]  # per user, chronological item indices (1-based)
    item_text: tuple[str, ...] = ()  # index 0 is padding ("")
    item_attributes: tuple[dict[str, str], ...] = ()  # index 0 is padding ({})
    source: str = ""
    duplicates_dropped: int = field(default=0, compare=False)  # exact (user, item, timestamp) repeats
    _hash: str = field(default="", compare=False)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return sum(len(s) for s in self.sequences)

    @property
    def content_hash(self) -> str:
        if self._hash:
            return self._hash
        h = hashlib.sha256()
        for u, seq in zip(self.user_ids, self.sequences):
            h.update(f"{u}:{','.join(self.item_ids[i - 1] for i in seq)};".encode())
        for text in self.item_text:
            h.update(text.encode() + b"\x00")
        digest = h.hexdigest()[:16]
        object.__setattr__(self, "_hash", digest)
        return digest

    def stats(self) -> dict[str, float]:
        n = self.n_interactions
        return {
            "users": self.n_users,
            "items": self.n_items,
            "interactions": n,
            "avg_len": n / max(self.n_users, 1),
            "density": n / max(self.n_users * self.n_items, 1),
        }


# --------------------------------------------------------------------------- atomic files


def _parse_header(path: Path, header: list[str]) -> list[tuple[str, str]]:
    cols: list[tuple[str, str]] = []
    for pos, raw in enumerate(header, 1):
        if ":" not in raw:
            raise UserError(f"{path}:1: header field {pos} {raw!r} has no type (expected name:type)")
        name, typ = raw.rsplit(":", 1)
        if typ not in ("token", "token_seq", "float", "float_seq"):
            raise UserError(f"{path}:1: header field {raw!r} has unknown type {typ!r} (expected token, token_seq, float or float_seq)")
        if any(name == seen for seen, _ in cols):
            raise UserError(f"{path}:1: header field {name!r} appears twice")
        cols.append((name, typ))
    return cols


def _read_table(path: Path) -> tuple[list[tuple[str, str]], list[tuple[int, list[str]]]]:
    """The typed header and the (line number, fields) of each non-empty row."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")  # a leading byte-order mark is not part of the first field
    except UnicodeDecodeError as exc:
        bad = exc.object  # the bytes after any byte-order mark; exc.start indexes these
        line = bad[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not valid UTF-8 (byte {bad[exc.start]:#x}); re-save the file as UTF-8") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise UserError(f"{path}: empty file (expected a header line name:type<TAB>...)")
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader)
    cols = _parse_header(path, header)
    rows = []
    for lineno, row in enumerate(reader, 2):
        if not row:
            continue
        if len(row) != len(cols):
            raise UserError(f"{path}:{lineno}: expected {len(cols)} tab-separated fields, found {len(row)}")
        rows.append((lineno, row))
    return cols, rows


def _column(cols: list[tuple[str, str]], names: tuple[str, ...], path: Path, what: str) -> int | None:
    for i, (name, _) in enumerate(cols):
        if name in names:
            return i
    return None


def _require(idx: int | None, path: Path, what: str, cols) -> int:
    if idx is None:
        have = ", ".join(f"{n}:{t}" for n, t in cols)
        raise UserError(f"{path}:1: missing {what} field (have: {have})")
    return idx


def item_text_from_fields(title: str, attrs: dict[str, str]) -> str:
    """'Title (year: 1995, genres: Comedy, Drama)': the item's text for LLM prompts."""
    shown = ", ".join(f"{k}: {v}" for k, v in attrs.items() if v)
    return f"{title} ({shown})" if shown else title


# Which .item columns hold the title and the attributes, under their display names.
TITLE_FIELDS = ("movie_title", "title")
ATTRIBUTE_FIELDS = {
    "release_year": "year",
    "year": "year",
    "class": "genres",
    "genres": "genres",
    "brand": "brand",
    "categories": "category",
    "category": "category",
}


def load_atomic(directory: Path, name: str | None = None, k_core: int = 0) -> Dataset:
    """Read `<dir>/<name>.inter` (+ optional `<name>.item`) in RecBole's atomic format."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: dataset directory not found")
    name = name or directory.name
    inter_path = directory / f"{name}.inter"
    cols, rows = _read_table(inter_path)
    if not rows:
        raise UserError(f"{inter_path}: no interactions after the header")
    ui = _require(_column(cols, ("user_id",), inter_path, "user"), inter_path, "user_id", cols)
    ii = _require(_column(cols, ("item_id",), inter_path, "item"), inter_path, "item_id", cols)
    ti = _require(_column(cols, TIME_FIELD_CANDIDATES, inter_path, "time"), inter_path, "timestamp", cols)
    if cols[ti][1] != "float":
        raise UserError(f"{inter_path}:1: field {cols[ti][0]!r} must have type float, not {cols[ti][1]}")
    events: dict[str, list[tuple[float, int, str]]] = {}
    seen: set[tuple[str, str, float]] = set()
    duplicates = 0
    for lineno, row in rows:
        user, item, ts_raw = row[ui], row[ii], row[ti]
        if not user or not item:
            raise UserError(f"{inter_path}:{lineno}: empty user_id or item_id")
        try:
            ts = float(ts_raw)
        except ValueError:
            raise UserError(f"{inter_path}:{lineno}: field {cols[ti][0]!r}: {ts_raw!r} is not a number") from None
        if not math.isfinite(ts) or ts < 0:
            raise UserError(f"{inter_path}:{lineno}: field {cols[ti][0]!r}: {ts_raw!r} must be a finite non-negative number")
        if (user, item, ts) in seen:
            duplicates += 1
            continue
        seen.add((user, item, ts))
        events.setdefault(user, []).append((ts, lineno, item))

    item_fields: dict[str, dict[str, str]] = {}
    titles: dict[str, str] = {}
    item_path = directory / f"{name}.item"
    if item_path.exists():
        icols, irows = _read_table(item_path)
        iid = _require(_column(icols, ("item_id",), item_path, "item"), item_path, "item_id", icols)
        ttl = _column(icols, TITLE_FIELDS, item_path, "title")
        for _, row in irows:
            attrs = {}
            for j, (cname, _) in enumerate(icols):
                if cname in ATTRIBUTE_FIELDS and row[j].strip():
                    attrs[ATTRIBUTE_FIELDS[cname]] = ", ".join(row[j].split()) if cname in ("class", "genres") else row[j].strip()
            item_fields[row[iid]] = attrs
            if ttl is not None:
                titles[row[iid]] = row[ttl].strip()

    sequences = {u: [it for _, _, it in sorted(evs, key=lambda e: (e[0], e[1]))] for u, evs in events.items()}
    if k_core > 0:
        sequences = k_core_filter(sequences, k_core)
        if not sequences:
            raise UserError(f"{inter_path}: nothing is left after {k_core}-core filtering")
    return build_dataset(name, sequences, titles, item_fields, source=str(directory), duplicates_dropped=duplicates)


def build_dataset(
    name: str,
    sequences: dict[str, list[str]],
    titles: dict[str, str],
    item_fields: dict[str, dict[str, str]],
    source: str = "",
    duplicates_dropped: int = 0,
) -> Dataset:
    """Index users and items and attach item text. Items without a title fall back to their id."""
    users = sorted(sequences, key=_natural_key)
    items = sorted({it for seq in sequences.values() for it in seq}, key=_natural_key)
    index = {it: i + 1 for i, it in enumerate(items)}
    seqs = tuple(tuple(index[it] for it in sequences[u]) for u in users)
    attrs = ({},) + tuple(item_fields.get(it, {}) for it in items)
    text = ("",) + tuple(item_text_from_fields(titles.get(it) or f"item {it}", item_fields.get(it, {})) for it in items)
    return Dataset(name, tuple(users), tuple(items), seqs, text, attrs, source, duplicates_dropped)


def _natural_key(token: str):
    return (0, int(token), "") if token.isdigit() else (1, 0, token)


def k_core_filter(sequences: dict[str, list[str]], k: int) -> dict[str, list[str]]:
    """Drop users and items with fewer than k interactions, repeatedly, until stable."""
    seqs = {u: list(s) for u, s in sequences.items()}
    while True:
        counts = Counter(it for s in seqs.values() for it in s)
        new = {u: [it for it in s if counts[it] >= k] for u, s in seqs.items()}
        new = {u: s for u, s in new.items() if len(s) >= k}
        if new == seqs:
            return new
        seqs = new
