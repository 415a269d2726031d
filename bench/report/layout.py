"""Table layout: cells, table views, sections, number formats; the words every table shares."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


PROTOCOL = (
    "leave-one-out by time (last item = test, second-to-last = validation), full ranking over all items, "
    "ties counted against the target; test metrics; model selection on validation only"
)
# one wording of the paired test for every table that reports it ({pair}: who is tested against whom)
WILCOXON_TEST = (
    "a two-sided Wilcoxon signed-rank test (scipy.stats.wilcoxon) on per-user values of the "
    "column's metric, {pair}, paired by user within each seed (differences averaged over the "
    "seeds both have)"
)
BETTER_MARK, WORSE_MARK = "*", "↓"
WILCOXON_NOTE = (
    f"{BETTER_MARK}: Laser significantly better, {WORSE_MARK}: Laser significantly worse (p < 0.05 either way; no mark: p ≥ 0.05) in "
    + WILCOXON_TEST.format(pair="Laser vs that baseline")
    + "."
)


# ---------------------------------------------------------------- table layout


@dataclass(frozen=True)
class Cell:
    text: str
    bold: bool = False
    underline: bool = False
    mark: str = ""  # "*" / "↓" significantly better / worse, "†" some seeds failed, "§" seeds at mixed precisions


@dataclass
class TableView:
    """A laid-out table, independent of the output format."""

    caption: str
    columns: list[str]
    rows: list[list[Cell]]
    header: list[tuple[str, int]] = field(default_factory=list)  # spanning labels over the columns
    breaks: list[int] = field(default_factory=list)  # a rule before these row indices
    notes: list[str] = field(default_factory=list)
    left: int = 1  # leading text columns


@dataclass
class Section:
    """One table of the report: our numbers (first view, `frame` as CSV) and reference blocks."""

    stem: str
    title: str
    views: list[TableView]
    frame: Any
    published: Any = None  # the paper's rows shown beside ours, as CSV


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def fmt(value: Any, digits: int = 4) -> str:
    if not _present(value):
        return "–"
    return f"{value:.{digits}f}"


def fmt_p(p: Any) -> str:
    """A p-value as the main table's notes write it (3 significant digits); "–" when no test ran."""
    return f"{p:.3g}" if _present(p) else "–"


def fmt_count(n: Any) -> str:
    """Parameter counts as the paper writes them: 787.3M, 4.194M, 0.1352M."""
    if not _present(n):
        return "-"
    n = int(n)
    if n >= 1_000_000_000:
        return f"{n / 1e9:.4g}B"
    if n >= 100_000:
        return f"{n / 1e6:.4g}M"
    return f"{n:,}"


def summary_cell(row: Any) -> Cell:
    """mean ± std over seeds (just the mean for one seed), "failed" when no seed finished."""
    if row.n_ok == 0:
        return Cell("failed")
    text = fmt(row.mean) + (f" ± {fmt(row.std)}" if row.n_ok > 1 else "")
    place = getattr(row, "place", 0)
    return Cell(text, bold=place == 1, underline=place == 2, mark="†" if row.n_ok < row.n_runs else "")


def _yes_no(value: Any) -> str:
    return "?" if value is None or value != value else ("yes" if value else "no")


def _status_notes(summary) -> list[str]:
    notes = []
    if ((summary["n_ok"] > 0) & (summary["n_ok"] < summary["n_runs"])).any():
        notes.append("†: some seeds failed; the value is over the seeds that finished.")
    if (summary["n_ok"] == 0).any():
        notes.append("failed: no seed of this run finished; the error is in its run record.")
    return notes


def _seed_note(summary) -> str:
    seeds = sorted(set(summary.loc[summary["n_ok"] > 0, "n_ok"]))
    counts = "/".join(map(str, seeds)) or "0"
    return f"Mean ± sample std over seeds ({counts} per row; a single seed shows its value only)."


def seed_counts(summary, row: str = "name") -> dict[Any, int]:
    """Finished seeds per table row (its most over the datasets)."""
    done = summary[summary["n_ok"] > 0]
    return {k: int(v) for k, v in done.groupby(row, sort=False)["n_ok"].max().items()}


def seeds_phrase(counts, per: str = "row") -> str:
    """What a caption says of its seeds: "3 seeds", or "1-3 seeds per row" where rows differ."""
    distinct = sorted({int(c) for c in counts if c > 0})
    if not distinct:
        return "no finished seed"
    if len(distinct) == 1:
        return f"{distinct[0]} seed{'s' if distinct[0] != 1 else ''}"
    return f"{distinct[0]}-{distinct[-1]} seeds per {per}"


def seed_rows_note(counts: dict[Any, int]) -> list[str]:
    """Where rows have different numbers of seeds, which row has how many."""
    if len(set(counts.values())) <= 1:
        return []
    return ["Seeds per row: " + ", ".join(f"{name} {n}" for name, n in counts.items()) + "."]


def _datasets(summary) -> list[str]:
    return list(dict.fromkeys(summary["dataset"]))


def _with_published(summary, dataset: str) -> bool:
    return "published" in summary and bool(summary.loc[summary["dataset"] == dataset, "published"].notna().any())
