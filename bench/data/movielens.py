"""MovieLens ml-1m / ml-10m (`::`) and ml-20m / ml-25m (CSV); the protocol is in importing.py."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from bench.errors import UserError
from bench.data.importing import Event, ImportResult, MOVIELENS_ITEM_HEADER, _file_info, _lines, _open_text, _timestamp, _token, check_name, prepare_events, write_imported


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
