"""A learning-curve figure as a `bench report` view: validation NDCG@10 against training
examples seen, for a set of run records named in a small JSON spec (the experiment log's budget
runs: `reports/experiments/learning_curve.json`), with the kept epoch circled and a floor line
from a finished run of the results folder (MostPop at the same seed).

The spec: {"title": str, "floor": {"method": str, "seed": int}, "out": stem,
"runs": [{"label": str, "record": path relative to the spec}]}. The figure is written beside
the spec as `<out>.png` and `.pdf`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.errors import UserError


def read_spec(path: Path) -> dict[str, Any]:
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: learning-curve spec not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable learning-curve spec ({type(exc).__name__}: {exc})") from None
    missing = [k for k in ("title", "floor", "out", "runs") if k not in spec]
    if missing or not spec.get("runs"):
        raise UserError(f"{path}: a learning-curve spec needs title, floor, out and a non-empty runs list (missing: {', '.join(missing) or 'runs'})")
    return spec


def learning_curve(spec_path: Path, records: Iterable[dict[str, Any]]) -> list[Path]:
    """Draw the spec's curves; `records` are the results folder's current records (for the floor)."""
    from bench.report.figures import _figure, _save
    from bench.results import read_record

    spec_path = Path(spec_path)
    spec = read_spec(spec_path)
    floor_of = spec["floor"]
    floor = next(
        (r["metrics"]["valid"]["ndcg@10"] for r in records
         if r.get("status") == "ok" and r["method"] == floor_of["method"] and r["seed"] == floor_of["seed"] and not (r.get("tags") or {}).get("component")),
        None,
    )
    fig, (ax,) = _figure(1, (7.0, 4.0))
    for run in spec["runs"]:
        record = read_record(spec_path.parent / run["record"])
        curve = record["training"]["curve"]
        (line,) = ax.plot([c["examples_seen"] for c in curve], [c["valid_ndcg@10"] for c in curve], marker=".", label=run["label"])
        kept = next(c for c in curve if c["epoch"] == record["training"]["best_epoch"])
        ax.scatter([kept["examples_seen"]], [kept["valid_ndcg@10"]], s=80, facecolors="none", edgecolors=line.get_color())
    if floor is not None:
        ax.axhline(floor, color="grey", linestyle="--", label=f"{floor_of['method']} ({floor:.4f})")
    ax.set_xlabel("training examples seen")
    ax.set_ylabel("validation NDCG@10")
    ax.set_title(spec["title"], fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, spec_path.parent, spec["out"])
