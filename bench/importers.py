"""Importers for public dumps, RecBole atomic export, and dataset statistics (Table 1).

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
UTF-8, else as Latin-1 (ml-1m ships Latin-1); ratings are numbers only.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.data import Dataset, k_core_filter, load_atomic
from bench.errors import UserError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
AMAZON_ITEM_HEADER = "item_id:token\ttitle:token_seq\tbrand:token\tcategories:token_seq"
MOVIELENS_ITEM_HEADER = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"
INTER_HEADER = "user_id:token\titem_id:token\ttimestamp:float"

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
    from bench.datasets import DATASETS, imported_root

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


# --------------------------------------------------------------------------- Amazon 2018


def read_amazon_reviews(path: Path) -> list[Event]:
    events = []
    for lineno, obj in _json_lines(path):
        for key in ("reviewerID", "asin", "unixReviewTime"):
            if key not in obj:
                raise UserError(f"{path}:{lineno}: review has no {key!r} field")
        user = _token(obj["reviewerID"], path, lineno, "reviewerID")
        item = _token(obj["asin"], path, lineno, "asin")
        events.append((user, item, _timestamp(obj["unixReviewTime"], path, lineno, "unixReviewTime")))
    if not events:
        raise UserError(f"{path}: no reviews")
    return events


_TAG = re.compile(r"<[^>]*>")


def amazon_category(value) -> str:
    """The `category` list as one ' > '-joined path; a plain string is taken as one level."""
    levels = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    cleaned = (clean_text(_TAG.sub(" ", level)) if isinstance(level, str) else "" for level in levels)
    return " > ".join(c for c in cleaned if c)


def read_amazon_meta(path: Path) -> tuple[dict[str, tuple[str, str, str]], int]:
    """asin -> (title, brand, category) for every metadata row (first row of a repeated asin),
    and how many repeated rows were ignored."""
    meta: dict[str, tuple[str, str, str]] = {}
    repeated = 0
    for lineno, obj in _json_lines(path):
        if "asin" not in obj:
            raise UserError(f"{path}:{lineno}: metadata row has no 'asin' field")
        asin = _token(obj["asin"], path, lineno, "asin")
        if asin in meta:
            repeated += 1
            continue
        meta[asin] = (clean_text(obj.get("title")), clean_text(obj.get("brand")), amazon_category(obj.get("category")))
    if not meta:
        raise UserError(f"{path}: no metadata rows")
    return meta, repeated


def import_amazon(reviews: Path, meta: Path, name: str, results: Path, k_core: int = 5, force: bool = False) -> ImportResult:
    check_name(name, results, force)
    info, repeated = read_amazon_meta(Path(meta))
    titled = {asin for asin, (title, _, _) in info.items() if title}
    events = read_amazon_reviews(Path(reviews))
    sequences, dropped = prepare_events(events, titled, k_core)
    items = sorted({it for seq in sequences.values() for _, it in seq})
    item_rows = (f"{it}\t{info[it][0]}\t{info[it][1]}\t{info[it][2]}\n" for it in items)
    provenance = {"source": "amazon-2018", "reviews": _file_info(reviews), "meta": _file_info(meta), "k_core": k_core}
    result = write_imported(results, name, sequences, AMAZON_ITEM_HEADER, item_rows, dropped, provenance, force)
    return ImportResult(result.dataset, result.path, dropped, {"repeated metadata rows ignored": repeated})


# --------------------------------------------------------------------------- MovieLens

_YEAR = re.compile(r"^(?P<title>.*\S)\s*\((?P<year>\d{4})\)\s*$")


def split_title_year(raw: str) -> tuple[str, str]:
    """'Toy Story (1995)' -> ('Toy Story', '1995'); only a final '(YYYY)' is taken as the year."""
    text = " ".join(raw.split())
    m = _YEAR.match(text)
    return (m["title"], m["year"]) if m else (text, "")


def _genres(raw: str) -> str:
    return " ".join(g.strip() for g in raw.split("|") if g.strip() and g.strip() != "(no genres listed)")


def _decode_small(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _movielens_layout(directory: Path) -> str:
    if not directory.is_dir():
        raise UserError(f"{directory}: MovieLens directory not found")
    for layout, ratings, movies in (("dat", "ratings.dat", "movies.dat"), ("csv", "ratings.csv", "movies.csv")):
        if (directory / ratings).is_file():
            if not (directory / movies).is_file():
                raise UserError(f"{directory / movies}: file not found (needed with {ratings})")
            return layout
    if (directory / "u.data").is_file():
        raise UserError(f"{directory}: the ml-100k layout (u.data) is not imported; ml-100k is built in as 'ml-100k'")
    raise UserError(f"{directory}: no ratings.dat (ml-1m, ml-10m) or ratings.csv (ml-20m, ml-25m) found")


def read_movielens(directory: Path) -> tuple[list[Event], dict[str, tuple[str, str, str]]]:
    """Ratings as (user, movie, timestamp) in file order, and movie -> (title, year, genres)."""
    directory = Path(directory)
    layout = _movielens_layout(directory)
    movies_path = directory / f"movies.{layout}"
    movies: dict[str, tuple[str, str, str]] = {}
    text = _decode_small(movies_path)
    if layout == "dat":
        rows = ((n, line.rstrip("\r\n").split("::")) for n, line in enumerate(text.splitlines(), 1) if line.strip())
        rows = ((n, [r[0], "::".join(r[1:-1]), r[-1]] if len(r) > 3 else r) for n, r in rows)
    else:
        rows = _csv_rows(movies_path, io.StringIO(text), ["movieId", "title", "genres"])
    for lineno, row in rows:
        if len(row) != 3:
            raise UserError(f"{movies_path}:{lineno}: expected 3 fields (MovieID, Title, Genres), found {len(row)}")
        movie = _token(row[0], movies_path, lineno, "MovieID")
        title, year = split_title_year(row[1])
        movies.setdefault(movie, (title, year, _genres(row[2])))

    ratings_path = directory / f"ratings.{layout}"
    events: list[Event] = []
    for lineno, row in _rating_rows(ratings_path, layout):
        if len(row) != 4:
            raise UserError(f"{ratings_path}:{lineno}: expected 4 fields (UserID, MovieID, Rating, Timestamp), found {len(row)}")
        user = _token(row[0], ratings_path, lineno, "UserID")
        movie = _token(row[1], ratings_path, lineno, "MovieID")
        events.append((user, movie, _timestamp(row[3].strip(), ratings_path, lineno, "Timestamp")))
    if not events:
        raise UserError(f"{ratings_path}: no ratings")
    return events, movies


def _rating_rows(path: Path, layout: str) -> Iterator[tuple[int, list[str]]]:
    if layout == "dat":
        for lineno, line in _lines(path, "latin-1"):  # numbers only: any byte decodes
            yield lineno, line.rstrip("\r\n").split("::")
    else:
        with _open_text(path, "latin-1") as fh:
            yield from _csv_rows(path, fh, ["userId", "movieId", "rating", "timestamp"])


def _csv_rows(path: Path, fh, header: list[str]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(fh)
    try:
        first = next(reader, None)
        if first != header:
            raise UserError(f"{path}:1: expected the header {','.join(header)}, found {','.join(first or [])!r}")
        for row in reader:
            if row:
                yield reader.line_num, row
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None


def import_movielens(directory: Path, name: str, results: Path, k_core: int = 0, force: bool = False) -> ImportResult:
    check_name(name, results, force)
    events, movies = read_movielens(Path(directory))
    titled = {m for m, (title, _, _) in movies.items() if title}
    sequences, dropped = prepare_events(events, titled, k_core)
    items = sorted({it for seq in sequences.values() for _, it in seq})
    item_rows = (f"{it}\t{movies[it][0]}\t{movies[it][1]}\t{movies[it][2]}\n" for it in items)
    provenance = {"source": "movielens", "path": _file_info(directory), "k_core": k_core}
    return write_imported(results, name, sequences, MOVIELENS_ITEM_HEADER, item_rows, dropped, provenance, force)


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
    from bench.datasets import imported_root
    from bench.data import _natural_key

    users = sorted(sequences, key=_natural_key)
    inter_rows = (f"{u}\t{it}\t{ts}\n" for u in users for ts, it in sequences[u])
    from bench.provenance import git_commit, now

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
    """Write files into a temp folder beside `root/name`, then rename it into place."""
    target = Path(root) / name
    if target.exists() and not force:
        raise UserError(f"{target}: dataset {name!r} already exists; pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}.", suffix=".tmp"))
    old = None
    try:
        for fname, lines in files.items():
            with open(tmp / fname, "w", encoding="utf-8", newline="\n") as fh:
                fh.writelines(lines)
                fh.flush()
                os.fsync(fh.fileno())
        tmp.chmod(0o755)
        if target.exists():
            old = target.with_name(f"{tmp.name}.old")
            os.rename(target, old)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not target.exists():
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- RecBole export


def export_atomic(dataset: Dataset, out: Path, split: bool = False, split_format: str = "plain") -> list[Path]:
    """Copy the dataset's atomic files to `out`; with `split`, add the leave-one-out split as
    RecBole benchmark files `<name>.{train,valid,test}.inter`.

    plain: (user_id, item_id, timestamp) rows, timestamps = positions in the user's sequence
    (train 0..n-3, valid n-2, test n-1); RecBole's general models load these.
    sequential: (user_id, item_id_list, item_id) rows, the form RecBole's sequential models
    need with `benchmark_filename` (train = every prefix of the training part -> next item)."""
    from bench.splits import atomic_write_text, leave_one_out

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
        parts = _split_rows_plain(s, tok, users) if split_format == "plain" else _split_rows_sequential(s, tok, users)
        for part, lines in parts.items():
            dest = out / f"{dataset.name}.{part}.inter"
            atomic_write_text(dest, "".join(lines))
            written.append(dest)
    return written


def _split_rows_plain(s, tok, users) -> dict[str, list[str]]:
    train = [INTER_HEADER + "\n"]
    for user, seq in zip(users, s.train):
        train += [f"{user}\t{tok[i - 1]}\t{t}\n" for t, i in enumerate(seq)]
    valid = [INTER_HEADER + "\n"] + [f"{u}\t{tok[v - 1]}\t{len(h)}\n" for u, h, v in zip(users, s.train, s.valid_target)]
    test = [INTER_HEADER + "\n"] + [f"{u}\t{tok[t - 1]}\t{len(h) + 1}\n" for u, h, t in zip(users, s.train, s.test_target)]
    return {"train": train, "valid": valid, "test": test}


def _split_rows_sequential(s, tok, users) -> dict[str, list[str]]:
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"

    def row(user, history, target) -> str:
        return f"{user}\t{' '.join(tok[i - 1] for i in history)}\t{tok[target - 1]}\n"

    train = [header] + [row(u, seq[:j], seq[j]) for u, seq in zip(users, s.train) for j in range(1, len(seq))]
    valid = [header] + [row(u, h, t) for u, h, t in zip(users, s.histories("valid"), s.targets("valid"))]
    test = [header] + [row(u, h, t) for u, h, t in zip(users, s.histories("test"), s.targets("test"))]
    return {"train": train, "valid": valid, "test": test}


# --------------------------------------------------------------------------- statistics (Table 1)

STATS_COLUMNS = ("dataset", "users", "items", "interactions", "avg_len", "density")


def stats_rows(datasets: Iterable[Dataset]) -> list[dict]:
    """avg_len = interactions / users; density = interactions / (users * items)."""
    return [{"dataset": d.name, **d.stats()} for d in datasets]


def stats_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(STATS_COLUMNS)
    for r in rows:
        w.writerow([r["dataset"], r["users"], r["items"], r["interactions"], f"{r['avg_len']:.4f}", f"{r['density']:.6e}"])
    return buf.getvalue()


def short_sci(x: float) -> str:
    """1.307e-3 -> '1.3e-3' (the paper's style)."""
    mant, exp = f"{x:.1e}".split("e")
    return f"{mant}e{int(exp)}"


def _tex_escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", text)


def stats_latex(rows: list[dict]) -> str:
    lines = [
        "% bench data stats: avg. length = interactions / users; density = interactions / (users x items)",
        r"\begin{tabular}{lrrrrr}",
        r"\toprule",
        r"Dataset & \#Users & \#Items & \#Interactions & Avg.\ length & Density \\",
        r"\midrule",
    ]
    for r in rows:
        mant, exp = f"{r['density']:.1e}".split("e")
        density = f"${mant} \\times 10^{{{int(exp)}}}$"
        lines.append(f"{_tex_escape(r['dataset'])} & {r['users']:,} & {r['items']:,} & {r['interactions']:,} & {r['avg_len']:.2f} & {density} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_stats(rows: list[dict], out: Path) -> list[Path]:
    from bench.splits import atomic_write_text

    out = Path(out)
    paths = [out / "dataset_stats.csv", out / "dataset_stats.tex"]
    atomic_write_text(paths[0], stats_csv(rows))
    atomic_write_text(paths[1], stats_latex(rows))
    return paths
