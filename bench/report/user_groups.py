"""Where Laser loses: each row's per-user metric by user group, on validation.

Users are grouped by their target's count in the training sequences (quintiles) and by their
history length (quartiles); each row's per-user values are averaged over its seeds, then over
the group. Validation, never test: this table is read to decide what to change next, and that
must not be chosen on the test users."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report.layout import Cell, Section, TableView, fmt
from bench.report.records import is_ok, metric_label

STAGE = "valid"
# (frame column, number of quantile groups, what the column counts in words, its table header)
GROUPINGS = (
    ("target_count", 5, "the target's count in the training sequences", "Target's training count"),
    ("history", 4, "history length", "History length"),
)
GROUP_COLUMNS = ("dataset", "grouping", "group", "low", "high", "users", "name", "value")
RATIO = ("laser", "bert4rec")  # the comparison the table was made for: Laser against its own frozen encoder's architecture


def user_group_frame(records: Sequence[dict[str, Any]], facts, metric: str = "ndcg@10", stage: str = STAGE):
    """Long frame: per (grouping, group, row name) the mean per-user `metric`, with the group's
    users and the range of the grouped value; rows in the order of `records`."""
    import numpy as np
    import pandas as pd

    from bench.metrics import per_user_metric

    by_name: dict[str, list] = {}
    for r in records:
        if is_ok(r) and (r.get("ranks") or {}).get(stage):
            by_name.setdefault(r["name"], []).append(per_user_metric(r["ranks"][stage], metric))
    if not by_name:
        return pd.DataFrame(columns=list(GROUP_COLUMNS))
    users = pd.DataFrame({name: np.mean(values, axis=0) for name, values in by_name.items()})
    users["target_count"] = facts.train_count[stage]
    users["history"] = facts.history[stage]
    dataset = records[0]["dataset"]
    rows = []
    for column, bins, _, _ in GROUPINGS:
        groups = users.groupby(pd.qcut(users[column], bins, duplicates="drop"), observed=True)
        for _, group in groups:
            low, high = int(group[column].min()), int(group[column].max())
            for name in by_name:
                rows.append({"dataset": dataset, "grouping": column, "group": f"{low}-{high}", "low": low, "high": high, "users": len(group), "name": name, "value": float(group[name].mean())})
    return pd.DataFrame(rows, columns=list(GROUP_COLUMNS))


def user_group_views(frame, metric: str = "ndcg@10") -> list[TableView]:
    views = []
    for dataset in dict.fromkeys(frame["dataset"]):
        for column, bins, words, header in GROUPINGS:
            part = frame[(frame["dataset"] == dataset) & (frame["grouping"] == column)]
            if part.empty:
                continue
            names = list(dict.fromkeys(part["name"]))
            ratio = all(n in names for n in RATIO)
            values = {(g, n): v for g, n, v in zip(part["group"], part["name"], part["value"])}
            rows = []
            for group, users in dict.fromkeys(zip(part["group"], part["users"])):
                row = [Cell(group), Cell(str(users))] + [Cell(fmt(values.get((group, n)))) for n in names]
                if ratio:
                    a, b = values[(group, RATIO[0])], values[(group, RATIO[1])]
                    row.append(Cell(f"{a / b:.2f}" if b > 0 else "–"))
                rows.append(row)
            notes = [
                f"Validation {metric_label(metric)} per user, averaged over each row's seeds, then over the group's users; "
                f"groups are the {'quintiles' if bins == 5 else 'quartiles'} of {words} (equal values stay in one group, so sizes differ).",
                "Validation, not test: this table is read to decide what to try next, and that must not be chosen on the test users.",
            ]
            if ratio:
                notes.append(f"{RATIO[0]} / {RATIO[1]}: the two columns' ratio.")
            caption = f"{dataset}: validation {metric_label(metric)} by {words}"
            columns = [header, "Users", *names] + ([f"{RATIO[0]} / {RATIO[1]}"] if ratio else [])
            views.append(TableView(caption, columns, rows, notes=notes, left=1))
    return views


def user_group_section(records: Sequence[dict[str, Any]], results: Path | None, metric: str = "ndcg@10") -> tuple[Section | None, list[str]]:
    """The section (None where no dataset's split could be read) and a line for each dataset left out."""
    import pandas as pd

    from bench.report.split_facts import split_facts

    from bench.report.records import family_order

    order = family_order(r.get("family") for r in records)
    records = sorted(records, key=lambda r: order.index(r.get("family")))  # columns in the main table's order
    frames, missing = [], []
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        chosen = [r for r in records if r["dataset"] == dataset and is_ok(r)]
        facts = split_facts(chosen, results) if chosen else "no finished run"
        if isinstance(facts, str):
            missing.append(f"User groups of {dataset}: not shown ({facts}).")
            continue
        frames.append(user_group_frame(chosen, facts, metric))
    frame = pd.concat(frames, ignore_index=True) if frames else None
    if frame is None or frame.empty:
        return None, missing
    return Section("user_groups", "Accuracy by user group (validation)", user_group_views(frame, metric), frame), missing
