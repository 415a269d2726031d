"""Dataset statistics (the paper's Table 1): users, items, interactions, average length, density."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from bench.data.atomic import Dataset
from bench.io import atomic_write_text
from bench.latex import latex_escape


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
        lines.append(f"{latex_escape(r['dataset'])} & {r['users']:,} & {r['items']:,} & {r['interactions']:,} & {r['avg_len']:.2f} & {density} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_stats(rows: list[dict], out: Path) -> list[Path]:
    out = Path(out)
    paths = [out / "dataset_stats.csv", out / "dataset_stats.tex"]
    atomic_write_text(paths[0], stats_csv(rows))
    atomic_write_text(paths[1], stats_latex(rows))
    return paths
