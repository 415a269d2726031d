"""What every importer shares: raw-file reading, cleaning, the k-core and the atomic write of the
imported folder. One module per source: amazon.py, movielens.py.

Importers read a raw dump, clean it and write it as RecBole atomic files under
`<results>/datasets/<NAME>/<NAME>.inter` + `.item` (+ `import.json`: sources, options, drops),
written in a temp folder and renamed into place, so `load_dataset(NAME)` and `bench run`
find it by name afterwards. What they write is the final data: duplicates, untitled items and
the k-core are already gone, and each user's rows are in sequence order (time, ties in file
order, which `load_atomic` keeps as its stable sort).

Amazon 2018 (reviews + metadata JSON lines, plain or .gz), following the paper's protocol:
  - text fields are HTML-unescaped once (`html.unescape`) and whitespace-collapsed (tabs and
    newlines become spaces); an item whose cleaned title is empty, or that has no metadata
    row, is dropped with all its reviews;
  - brand is kept when non-empty; category is the whole `category` list joined with " > "
    (top level first, e.g. "Industrial & Scientific > Lab Supplies"; UniSRec and RecFormer
    join the same list with spaces), each level with HTML tags stripped, empty levels dropped;
  - a metadata asin that appears twice keeps its first row;
  - exact duplicate reviews (same reviewerID, asin, unixReviewTime) keep the first;
  - the k-core (default 5, iterated until stable) runs after the untitled items are gone.
  Drops are counted in that order: a row is a duplicate, else untitled, else cut by the k-core.

MovieLens (ml-1m / ml-10m `::` files, ml-20m / ml-25m CSV files): every rating is an
interaction; a movie's title loses its final "(YYYY)", which becomes the year; genres are
kept ("(no genres listed)" counts as none). The movies file is read as UTF-8 when it is valid
UTF-8, else as Latin-1 (ml-1m ships Latin-1); ratings are numbers only."""

from __future__ import annotations

import html
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.atomic import INTER_HEADER, Dataset, _natural_key, k_core_filter, load_atomic
from bench.data.datasets import DATASETS, imported_root
from bench.errors import UserError
from bench.io import atomic_path, write_synced
from bench.provenance import git_commit, now


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
AMAZON_ITEM_HEADER = "item_id:token\ttitle:token_seq\tbrand:token\tcategories:token_seq"
MOVIELENS_ITEM_HEADER = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"

# (user, item, timestamp) in file order
Event = tuple[str, str, int]


@dataclass(frozen=True)
class ImportResult:
    dataset: Dataset  # read back from the written files, exactly as `load_dataset(NAME)` gives it
    path: Path
    dropped: dict[str, int]  # reason -> interaction rows dropped
    notes: dict[str, int] = field(default_factory=dict)  # other counts (e.g. duplicate metadata rows)

    def summary(self, source: str) -> str:
        s = self.dataset.stats()
        drops = ", ".join(f"{n:,} {why}" for why, n in self.dropped.items()) or "none"
        notes = "".join(f"; {n:,} {what}" for what, n in self.notes.items() if n)
        return (
            f"imported {source} {self.dataset.name!r}: {s['users']:,} users, {s['items']:,} items, "
            f"{s['interactions']:,} interactions -> {self.path} (dropped rows: {drops}{notes})"
        )


def clean_text(value) -> str:
    """HTML entities unescaped once, all whitespace runs (tabs, newlines) collapsed to a space."""
    if not isinstance(value, str):
        return ""
    return " ".join(html.unescape(value).split())


def check_name(name: str, results: Path, force: bool = False) -> str:
    """A new dataset name: a plain folder name, not a built-in one, not taken unless `force`."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise UserError(f"--name {name!r}: use letters, digits, '.', '_' and '-' (starting with a letter or digit)")
    if name in DATASETS:
        raise UserError(f"--name {name!r} is a built-in dataset; choose another name")
    target = imported_root(results) / name
    if target.exists() and not force:
        raise UserError(f"{target}: dataset {name!r} already exists; pass --force to replace it")
    return name


# --------------------------------------------------------------------------- reading raw files


def _check_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    return path


def _open_text(path: Path, encoding: str = "utf-8"):
    import gzip

    path = _check_file(path)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def _lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(line number, line) of each non-blank line, decoded line by line (so a decoding error
    names its line); gzip errors become UserErrors too."""
    import gzip
    import zlib

    path = _check_file(path)
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    line = raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise UserError(f"{path}:{lineno}: not valid {encoding} (byte {raw[exc.start]:#x})") from None
                if lineno == 1:
                    line = line.lstrip("\ufeff")  # a byte-order mark is not part of the first row
                if line.strip():
                    yield lineno, line
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise UserError(f"{path}: not a readable gzip file ({exc or type(exc).__name__})") from None


def _json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    for lineno, line in _lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            hint = " (the 2014 dumps are Python literals, not JSON: use the 2018 files)" if line.lstrip().startswith("{'") else ""
            raise UserError(f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno}){hint}") from None
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def _token(value, path: Path, lineno: int, what: str) -> str:
    token = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not token or any(c.isspace() for c in token):
        raise UserError(f"{path}:{lineno}: {what} {value!r} must be a non-empty token without spaces")
    return sys.intern(token)  # ids repeat on many rows: one string object each


def _timestamp(value, path: Path, lineno: int, what: str) -> int:
    try:
        ts = int(value)
    except (TypeError, ValueError):
        ts = -1
    if isinstance(value, bool) or isinstance(value, float) or ts < 0:
        raise UserError(f"{path}:{lineno}: {what} {value!r} must be a non-negative integer (seconds)")
    return ts



# --------------------------------------------------------------------------- shared steps


def prepare_events(events: list[Event], titled: set[str], k_core: int) -> tuple[dict[str, list[tuple[int, str]]], dict[str, int]]:
    """Per user (timestamp, item) in sequence order, and the rows dropped by reason:
    exact duplicates first, then items without a title, then the iterated k-core."""
    dropped = {"duplicate": 0, "untitled item": 0}
    grouped: dict[str, list[tuple[int, str]]] = {}
    for user, item, ts in events:
        grouped.setdefault(user, []).append((ts, item))
    per_user: dict[str, list[tuple[int, str]]] = {}
    for user, rows in grouped.items():
        seen: set[tuple[int, str]] = set()
        kept = []
        for row in rows:
            if row in seen:
                dropped["duplicate"] += 1
            elif row[1] not in titled:
                seen.add(row)
                dropped["untitled item"] += 1
            else:
                seen.add(row)
                kept.append(row)
        if kept:
            kept.sort(key=lambda e: e[0])  # stable: equal timestamps keep file order
            per_user[user] = kept
    del grouped
    if k_core > 0:
        before = sum(len(s) for s in per_user.values())
        kept = k_core_filter({u: [it for _, it in s] for u, s in per_user.items()}, k_core)
        items = {it for s in kept.values() for it in s}
        # an item the k-core removes is removed from every user, so filtering by the final
        # item set gives exactly the k-core sequences, with their timestamps
        per_user = {u: [e for e in per_user[u] if e[1] in items] for u in kept}
        dropped["k-core"] = before - sum(len(s) for s in per_user.values())
    if not per_user:
        drops = ", ".join(f"{n:,} {why}" for why, n in dropped.items())
        hint = f"; try a smaller --k-core than {k_core}" if dropped.get("k-core") else ""
        raise UserError(f"no interactions are left (dropped rows: {drops}){hint}")
    return per_user, dropped


def _file_info(path: Path) -> dict:
    path = Path(path).resolve()
    return {"path": str(path), "bytes": path.stat().st_size if path.is_file() else None}


def write_imported(
    results: Path,
    name: str,
    sequences: dict[str, list[tuple[int, str]]],
    item_header: str,
    item_rows: Iterable[str],
    dropped: dict[str, int],
    provenance: dict,
    force: bool,
) -> ImportResult:
    """Write `<results>/datasets/<name>/` (temp folder + rename) and read it back."""
    users = sorted(sequences, key=_natural_key)
    inter_rows = (f"{u}\t{it}\t{ts}\n" for u in users for ts, it in sequences[u])
    meta = {"format": 1, "name": name, **provenance, "dropped": dropped, "date": now(), "git": git_commit(Path(__file__).parent)}
    files = {
        f"{name}.inter": _chain([INTER_HEADER + "\n"], inter_rows),
        f"{name}.item": _chain([item_header + "\n"], item_rows),
        "import.json": [json.dumps(meta, indent=1) + "\n"],
    }
    path = write_folder(imported_root(results), name, files, force)
    dataset = load_atomic(path, name)
    expected = sum(len(s) for s in sequences.values())
    if dataset.n_interactions != expected or dataset.duplicates_dropped:
        raise AssertionError(f"{path}: read back {dataset.n_interactions} interactions, wrote {expected}")
    return ImportResult(dataset, path, dropped)


def _chain(*parts: Iterable[str]) -> Iterator[str]:
    for part in parts:
        yield from part


def write_folder(root: Path, name: str, files: dict[str, Iterable[str]], force: bool = False) -> Path:
    """Write files into a temp folder beside `root/name`, then rename it into place (bench.io)."""
    target = Path(root) / name
    if target.exists() and not force:
        raise UserError(f"{target}: dataset {name!r} already exists; pass --force to replace it")
    with atomic_path(target, folder=True) as tmp:
        for fname, lines in files.items():
            write_synced(tmp / fname, "".join(lines))
    return target