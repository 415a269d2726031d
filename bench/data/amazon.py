"""Amazon 2018 reviews + metadata (JSON lines, plain or .gz); the protocol is in importing.py."""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import UserError
from bench.data.importing import AMAZON_ITEM_HEADER, Event, ImportResult, _file_info, _json_lines, _timestamp, _token, check_name, clean_text, prepare_events, write_imported


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
