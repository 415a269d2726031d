"""`bench report`: the paper's tables (CSV, LaTeX, Markdown) and figures from stored run records.

Records are read only through `bench.results.iter_records`; nothing is trained. The numbers come
from `bench.report_tables` (pure frames) and the plots from `bench.report_figures`; this module
picks the records of each suite, lays the frames out as tables, renders and writes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UserError

PROTOCOL = (
    "leave-one-out by time (last item = test, second-to-last = validation), full ranking over all items, "
    "ties counted against the target; test metrics; model selection on validation only"
)
WILCOXON_NOTE = (
    "*: p < 0.05 in a two-sided Wilcoxon signed-rank test (scipy.stats.wilcoxon) on per-user values of the "
    "column's metric, Laser vs that baseline, paired by user within each seed (differences averaged over the "
    "seeds both have)."
)


# ---------------------------------------------------------------- table layout


@dataclass(frozen=True)
class Cell:
    text: str
    bold: bool = False
    underline: bool = False
    mark: str = ""  # "*" significant, "†" some seeds failed


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


def _datasets(summary) -> list[str]:
    return list(dict.fromkeys(summary["dataset"]))


def _with_published(summary, dataset: str) -> bool:
    return "published" in summary and bool(summary.loc[summary["dataset"] == dataset, "published"].notna().any())


# ---------------------------------------------------------------- main table (Table 2)


def main_view(summary, improv, metrics: Sequence[str]) -> TableView:
    from bench.report_tables import FLOOR_FAMILY, metric_label

    datasets = _datasets(summary)
    side = {d: _with_published(summary, d) for d in datasets}
    columns, header = ["Family", "Method", "Collab. IDs"], [("", 3)]
    for d in datasets:
        cols = [c for m in metrics for c in [metric_label(m)] + ([f"{metric_label(m)} (paper)"] if side[d] else [])]
        columns += cols
        header.append((d, len(cols)))
    cells = {(r.name, r.dataset, r.metric): r for r in summary.itertuples(index=False)}
    rows, breaks, previous, floor = [], [], None, []
    for family, name, uses in summary.drop_duplicates(["family", "name"])[["family", "name", "uses_ids"]].itertuples(index=False):
        if family != previous and rows and family != FLOOR_FAMILY:
            breaks.append(len(rows))
        row = [Cell(family if family != previous else ""), Cell(name), Cell(_yes_no(uses))]
        for d in datasets:
            for m in metrics:
                r = cells.get((name, d, m))
                row.append(summary_cell(r) if r is not None else Cell("–"))
                if side[d]:
                    row.append(Cell(fmt(r.published) if r is not None else "–"))
        (floor if family == FLOOR_FAMILY else rows).append(row)
        previous = family
    if not improv.empty:
        breaks.append(len(rows))
        rows.append(_improv_row(improv, datasets, metrics, side))
    if floor:  # the floor closes the table, below the Improv. row: what no method should fall under
        breaks.append(len(rows))
        rows += floor
    notes = [_seed_note(summary), "Bold: best in the column; underlined: runner-up."]
    notes += _status_notes(summary)
    notes.append("Collab. IDs: whether the method uses collaborative item-ID information (ID embeddings or a pre-trained ID encoder).")
    if floor:
        notes.append(
            f"{FLOOR_FAMILY} (last rows): the floor; MostPop ranks items by their count in the training sequences, the same list for every user "
            "(Collab. IDs yes: the counts are per item ID, pooled over all users' interactions)."
        )
    if not improv.empty:
        notes.append("Improv.: relative gain of the best Laser row over the best non-Laser row of each column. " + WILCOXON_NOTE)
        notes += [
            f"{i.dataset} {metric_label(i.metric)}: {i.laser} vs {i.baseline}, p = {i.p_value:.3g} ({i.users} users, {i.seeds} seed{'s' if i.seeds != 1 else ''})."
            for i in improv.itertuples(index=False)
        ]
    if any(side.values()):
        notes.append("(paper): the published value of the same model on the same dataset (Zhang et al. 2024, arXiv 2409.01605, Table 2).")
    notes.append(f"Protocol: {PROTOCOL}.")
    return TableView("Main results (paper Table 2 layout)", columns, rows, header, breaks, notes, left=3)


def _improv_row(improv, datasets: list[str], metrics: Sequence[str], side: dict[str, bool]) -> list[Cell]:
    gains = {(i.dataset, i.metric): i for i in improv.itertuples(index=False)}
    row = [Cell(""), Cell("Improv."), Cell("")]
    for d in datasets:
        for m in metrics:
            g = gains.get((d, m))
            if g is None or math.isnan(g.improv_percent):
                row.append(Cell("–"))
            else:
                row.append(Cell(f"{g.improv_percent:+.1f}%", mark="*" if g.significant else ""))
            if side[d]:
                row.append(Cell(""))
    return row


def main_csv(summary, improv):
    import pandas as pd

    ours = _failed_as_text(summary, "mean")
    gains = improv.assign(
        family="Improv.",
        name=improv["laser"] + " vs " + improv["baseline"],
        mean=improv["improv_percent"],
    )[["family", "name", "dataset", "metric", "mean", "p_value", "significant"]]
    return pd.concat([ours, gains], ignore_index=True).astype({"n_ok": "Int64", "n_runs": "Int64", "place": "Int64"})


def _failed_as_text(summary, column: str):
    """CSV rows with `status` ok/partial/failed and "failed" (not a blank) where no seed finished."""
    out = summary.copy()
    out["status"] = ["failed" if ok == 0 else "partial" if ok < n else "ok" for ok, n in zip(out["n_ok"], out["n_runs"])]
    out[column] = out[column].astype(object)
    out.loc[out["n_ok"] == 0, column] = "failed"
    return out


# ---------------------------------------------------------------- published reference blocks


def published_view(published, table: int | None) -> TableView | None:
    """The paper's numbers as a separate block (its datasets are Amazon 2018, not ours)."""
    from bench.report_tables import PAPER_DATASETS, PAPER_SOURCE, metric_label

    if published.empty or published["mean"].isna().all():
        return None
    datasets = list(dict.fromkeys(published["dataset"]))
    metrics = list(dict.fromkeys(published["metric"]))
    columns = ["Model"] + [metric_label(m) for _ in datasets for m in metrics]
    values = {(r.model, r.dataset, r.metric): r.mean for r in published.itertuples(index=False)}
    rows = []
    for model, note in dict.fromkeys(zip(published["model"], published["note"])):
        label = f"{model} ({note})" if isinstance(note, str) and note else model
        rows.append([Cell(label)] + [Cell(fmt(values.get((model, d, m)))) for d in datasets for m in metrics])
    notes = [
        f"Source: {PAPER_SOURCE}, Table {table}; '–': not reported. Amazon 2018 (5-core) as the paper prepared them, "
        "with ChatGLM2-6B: unless one of our datasets is the same, compare orderings, not numbers."
    ]
    if (published["split"] == "valid").any():
        notes.append("These published numbers are on the validation split.")
    caption = f"Published ({PAPER_DATASETS}): {PAPER_SOURCE}, Table {table}"
    return TableView(caption, columns, rows, [("", 1)] + [(d, len(metrics)) for d in datasets], notes=notes)


def published_parameters_view(paper) -> TableView:
    from bench.report_tables import PAPER_SOURCE

    rows = paper[paper["table"] == 3]
    cells = [[Cell(r.model), Cell(r.note if isinstance(r.note, str) else ""), Cell(fmt_count(r.trainable))] for r in rows.itertuples(index=False)]
    return TableView(f"Published: {PAPER_SOURCE}, Table 3", ["Model", "Note", "Trainable"], cells, notes=["ChatGLM2-6B backbone for Laser."], left=2)


# ---------------------------------------------------------------- parameters (Table 3)


def parameter_view(params) -> TableView:
    rows = []
    for p in params.itertuples(index=False):
        failed = p.status != "ok"
        numbers = [fmt_count(p.llm_side_trainable), fmt_count(p.trainable), fmt(p.trainable_percent, 3), fmt_count(p.total)]
        rows.append([Cell(p.name), Cell(p.dataset), Cell(p.backbone), Cell(p.tuning)] + [Cell("failed" if failed else n) for n in numbers])
    notes = [
        "Counted as peft's get_nb_trainable_parameters: numel() split by requires_grad, each shared tensor once.",
        "LLM-side trainable: the trainable values that live in the LLM's input space (Laser's prefix and suffix virtual tokens); '-' where there is no LLM.",
        "Total: every parameter of the method, the frozen LLM and ID encoder included; trainable % = trainable / total.",
    ]
    columns = ["Method", "Dataset", "Backbone", "Tuning", "LLM-side trainable", "Trainable", "Trainable %", "Total"]
    return TableView("Trainable parameters (paper Table 3 layout)", columns, rows, notes=notes, left=4)


def parameter_csv(params):
    out = params.copy()
    for column in ("llm_side_trainable", "trainable", "trainable_percent", "total"):
        out[column] = out[column].astype(object)
        out.loc[out["status"] != "ok", column] = "failed"
    return out


# ---------------------------------------------------------------- cost per run


def cost_view(costs) -> TableView:
    rows = []
    for c in costs.itertuples(index=False):
        if c.status != "ok":
            rows.append([Cell(c.name), Cell(c.dataset)] + [Cell("failed")] * 9)
            continue
        memory = f"{c.cuda_max_allocated_mb:,.0f} (GPU)" if _present(c.cuda_max_allocated_mb) else (f"{c.peak_rss_mb:,.0f}" if _present(c.peak_rss_mb) else "-")
        rows.append(
            [Cell(c.name), Cell(c.dataset), Cell(_yes_no(c.uses_ids)), Cell(fmt(c.recall_10)), Cell(fmt(c.ndcg_10)), Cell(fmt(c.mrr)), Cell(fmt_count(c.trainable)),
             Cell(fmt(c.examples_per_s, 2)), Cell(fmt(c.tokens_per_s, 1)), Cell(fmt(c.total_s, 0)), Cell(memory)]
        )
    notes = [
        "Test metrics. Examples/s and tokens/s: training throughput per process, averaged over the run's epochs (LLM methods report it; RecBole's trainer does not: '-').",
        "Wall s: training + evaluation of the run; peak memory: the run's peak RSS in MB (CUDA: torch.cuda.max_memory_allocated). Runs that shared the machine with others are slower than alone.",
    ]
    columns = ["Method", "Dataset", "Item IDs", "R@10", "N@10", "MRR", "Trainable", "Examples/s", "Tokens/s", "Wall s", "Peak MB"]
    return TableView("Accuracy and cost per run", columns, rows, notes=notes, left=3)


def cost_section(records) -> Section:
    from bench.report_tables import cost_frame

    costs = cost_frame(records)
    view_frame = costs.rename(columns={"recall@10": "recall_10", "ndcg@10": "ndcg_10"})
    return Section("costs", "Accuracy and cost per run", [cost_view(view_frame)], costs)


# ---------------------------------------------------------------- resolved configs


def hyperparameter_views(frame) -> list[TableView]:
    """A table per config group (families sharing one kind of config): a column per method, a row
    per setting whose value differs between them; settings equal in every column go to a note (a
    lone method shows all of its settings). The method version is in the CSV only."""
    from bench.report_tables import CONFIG_GROUP_OF_FAMILY, VERSION_SETTING

    frame = frame[frame["setting"] != VERSION_SETTING].drop_duplicates(["name", "setting"])
    names = list(dict.fromkeys(frame["name"]))
    family = dict(zip(frame["name"], frame["family"]))
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(CONFIG_GROUP_OF_FAMILY.get(family[name], family[name]), []).append(name)
    values = {(r.name, r.setting): r.value for r in frame.itertuples(index=False)}
    views = []
    for group, members in groups.items():
        settings = list(dict.fromkeys(frame.loc[frame["name"].isin(members), "setting"]))
        columns = [[values.get((n, k)) for n in members] for k in settings]
        same = {k for k, col in zip(settings, columns) if len(members) > 1 and len(set(col)) == 1 and col[0] is not None}
        shared = [(k, col[0]) for k, col in zip(settings, columns) if k in same]
        differing = [(k, col) for k, col in zip(settings, columns) if k not in same]
        rows = [[Cell(k)] + [Cell(v if v is not None else "–") for v in col] for k, col in differing]
        notes = ["Each run's config as it ran: profile expanded, every default filled in (its run key hashes this); '–': not a setting of that method."]
        if shared:
            notes.append("Same for every column: " + ", ".join(f"{k} = {v}" for k, v in shared) + ".")
        views.append(TableView(f"Resolved configs: {group}", ["Setting"] + members, rows, notes=notes))
    return views


def hyperparameter_sections(records) -> list[Section]:
    from bench.report_tables import VERSION_SETTING, hyperparameter_frame

    frame = hyperparameter_frame(records)
    if frame.empty:
        return []
    views = hyperparameter_views(frame)
    if not views:  # only methods without settings (MostPop): nothing to tabulate
        return []
    settled = set(frame.loc[frame["setting"] != VERSION_SETTING, "name"])
    bare = [n for n in dict.fromkeys(frame["name"]) if n not in settled]
    if bare:
        views[-1].notes.append(f"No settings: {', '.join(bare)}.")
    return [Section("hyperparameters", "Hyperparameters (resolved configs)", views, frame)]


# ---------------------------------------------------------------- ablations (Tables 4-7)


def ablation_view(summary, metrics: Sequence[str], component: str, table: int | None, borrowed_from: str | None) -> TableView:
    from bench.report_tables import metric_label

    datasets = _datasets(summary)
    side = {d: _with_published(summary, d) for d in datasets}
    columns, header = ["Variant"], [("", 1)]
    for d in datasets:
        cols = [c for m in metrics for c in [metric_label(m), "drop %"] + (["(paper)"] if side[d] else [])]
        columns += cols
        header.append((d, len(cols)))
    cells = {(r.name, r.dataset, r.metric): r for r in summary.itertuples(index=False)}
    rows = []
    for name in dict.fromkeys(summary["name"]):
        row = [Cell(name)]
        for d in datasets:
            for m in metrics:
                r = cells.get((name, d, m))
                row += [summary_cell(r), Cell(fmt(r.drop_percent, 1) if r.variant != "full" else "")] if r is not None else [Cell("–"), Cell("–")]
                if side[d]:
                    row.append(Cell(fmt(r.published) if r is not None else "–"))
        rows.append(row)
    notes = [_seed_note(summary), "drop %: (full − variant) / full × 100 on the means; positive = the variant is worse than the full model."]
    notes += _status_notes(summary)
    if not (summary["variant"] == "full").any():
        notes.append("No full-model run was found for this component, so no drop is given.")
    if borrowed_from:
        notes.append(f"The full model's runs are those tagged with component {borrowed_from} (one run serves every component).")
    if any(side.values()):
        notes.append(f"(paper): the published value of the same variant (Zhang et al. 2024, arXiv 2409.01605, Table {table}).")
    notes.append(f"Protocol: {PROTOCOL}.")
    caption = f"Ablation of {component}" + (f" (paper Table {table} layout)" if table else "")
    return TableView(caption, columns, rows, header, [1] if len(rows) > 1 else [], notes)


def grid_view(grid, metric: str) -> TableView:
    from bench.report_tables import metric_label

    ls = sorted(set(grid["L"]))
    best = grid.groupby("dataset")["mean"].transform("max")
    cells = {(r.dataset, r.K, r.L): (r, r.mean == b) for r, b in zip(grid.itertuples(index=False), best)}
    rows = []
    for dataset, k in dict.fromkeys(zip(grid["dataset"], grid["K"])):
        row = [Cell(dataset), Cell(str(k))]
        for l in ls:
            r, is_best = cells.get((dataset, k, l), (None, False))
            cell = summary_cell(r) if r is not None else Cell("–")
            row.append(Cell(cell.text, bold=is_best, mark=cell.mark))
        rows.append(row)
    notes = [
        f"Validation {metric_label(metric)} (the grid chooses hyperparameters, so it is read on validation, as the paper's Table 7 is); bold: best per dataset.",
        _seed_note(grid),
        *_status_notes(grid),
    ]
    return TableView(f"Experts K x query tokens L (paper Table 7 layout), validation {metric_label(metric)}", ["Dataset", "K \\ L"] + [str(l) for l in ls], rows, [("", 2), ("L query tokens", len(ls))], notes=notes, left=2)


# ---------------------------------------------------------------- rendering

_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "±": r"$\pm$",
    "×": r"$\times$",
    "−": "-",
    "–": "--",
    "†": r"$^{\dagger}$",
}
_LATEX_MARK = {"*": "*", "†": r"\dagger"}
LATEX_PACKAGES_COMMENT = "% needs \\usepackage{booktabs} and \\usepackage{graphicx}"


def latex_escape(text: Any) -> str:
    return "".join(_LATEX.get(c, c) for c in str(text))


def cell_latex(cell: Cell) -> str:
    text = latex_escape(cell.text)
    if cell.text and cell.bold:
        text = rf"\textbf{{{text}}}"
    if cell.text and cell.underline:
        text = rf"\underline{{{text}}}"
    if cell.mark:
        text += "$^{" + "".join(_LATEX_MARK.get(c, c) for c in cell.mark) + "}$"
    return text


def latex_tabular(view: TableView) -> str:
    align = "l" * view.left + "r" * (len(view.columns) - view.left)
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule"]
    if any(label for label, _ in view.header):
        parts, rules, start = [], [], 1
        for label, span in view.header:
            if label:
                parts.append(rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(label)}}}")
                rules.append(rf"\cmidrule(lr){{{start}-{start + span - 1}}}")
            else:
                parts += [""] * span
            start += span
        lines += [" & ".join(parts) + r" \\", " ".join(rules)]
    lines += [" & ".join(latex_escape(c) for c in view.columns) + r" \\", r"\midrule"]
    for i, row in enumerate(view.rows):
        if i in view.breaks:
            lines.append(r"\midrule")
        lines.append(" & ".join(cell_latex(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def _latex_notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return "\n\\par\\smallskip{\\footnotesize\\raggedright\n" + "\\par\n".join(latex_escape(n) for n in notes) + "\\par}"


def _fit(tabular: str) -> str:
    """Shrink a tabular wider than the text to the text width (graphicx); narrower ones keep their size."""
    return "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n" + tabular + "}"


def latex_table(section: Section) -> str:
    """One `table` float: our tabular, then the reference blocks."""
    first, *others = section.views
    parts = [
        LATEX_PACKAGES_COMMENT,
        r"\begin{table}[htbp]",
        r"\centering",
        r"\small",
        rf"\caption{{{latex_escape(first.caption)}}}",
        rf"\label{{tab:{section.stem.replace('_', '-')}}}",
        _fit(latex_tabular(first)) + _latex_notes(first.notes),
    ]
    for view in others:
        parts += [r"\bigskip", rf"\par\textit{{{latex_escape(view.caption)}}}\par\smallskip", _fit(latex_tabular(view)) + _latex_notes(view.notes)]
    parts.append(r"\end{table}")
    return "\n".join(parts) + "\n"


def latex_document(bodies: Sequence[str]) -> str:
    return "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n" + "\n\\clearpage\n".join(bodies) + "\\end{document}\n"


def cell_markdown(cell: Cell) -> str:
    text = cell.text.replace("|", "\\|")
    if text and cell.bold:
        text = f"**{text}**"
    if text and cell.underline:
        text = f"<ins>{text}</ins>"
    return text + (f"<sup>{cell.mark}</sup>" if cell.mark else "")


def markdown_table(view: TableView) -> str:
    groups = [label for label, span in view.header for _ in range(span)] or [""] * len(view.columns)
    names = [f"{g} {c}".strip() if g else c for g, c in zip(groups, view.columns)]
    lines = [f"**{view.caption}**", "", "| " + " | ".join(n.replace("|", "\\|") for n in names) + " |"]
    lines.append("|" + "|".join("---" if i < view.left else "---:" for i in range(len(names))) + "|")
    lines += ["| " + " | ".join(cell_markdown(c) for c in row) + " |" for row in view.rows]
    lines += [""] + [f"- {n.replace('*', chr(92) + '*')}" for n in view.notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- record selection


def _same_config(record_config: dict | None, spec_config: dict) -> bool:
    """Equal configs; the LLM chosen at run time (`bench run --llm`) is not part of a suite's spec."""
    from bench.configs import canonical_json

    config = dict(record_config or {})
    if "llm" not in spec_config:
        config.pop("llm", None)
    return canonical_json(config) == canonical_json(spec_config)


def suite_records(records: Sequence[dict[str, Any]], suite: str) -> list[dict[str, Any]]:
    """Records of the suite's runs (name, dataset, seed and config as expanded), in the suite's order."""
    from bench.suites import expand, load_suite

    specs = expand(load_suite(suite))
    order = {(s.name, s.dataset, s.seed): i for i, s in enumerate(specs)}
    configs = {(s.name, s.dataset, s.seed): s.config for s in specs}
    chosen = [
        r for r in records
        if (ident := (r.get("name"), r.get("dataset"), r.get("seed"))) in configs and _same_config(r.get("config"), configs[ident])
    ]
    return sorted(chosen, key=lambda r: order[(r["name"], r["dataset"], r["seed"])])


# ---------------------------------------------------------------- sections


def main_section(records, metrics: Sequence[str], paper) -> Section:
    from bench import report_tables as rt

    runs = rt.runs_frame(records, metrics)
    summary = rt.by_family(rt.add_places(rt.summarize(runs, metrics, rows=("family", "name", "method", "uses_ids"))))
    published = rt.published_frame(paper, 2, metrics)
    summary = rt.attach_published(summary, published, key="method")
    improv = rt.improvements(summary, records)
    views = [main_view(summary, improv, metrics)]
    if (block := published_view(published, 2)) is not None:
        views.append(block)
    return Section("main_table", "Main results (Table 2)", views, main_csv(summary, improv), paper[paper["table"] == 2])


def parameter_section(records, paper) -> Section:
    from bench.report_tables import parameter_frame

    params = parameter_frame(records)
    views = [parameter_view(params), published_parameters_view(paper)]
    return Section("parameters", "Trainable parameters (Table 3)", views, parameter_csv(params), paper[paper["table"] == 3])


def ablation_sections(records, metrics: Sequence[str], paper) -> tuple[list[Section], list[tuple[str, Any, str]]]:
    """A section per component (plus the K x L grid for "experts"), and the data of their bar charts."""
    from bench import report_tables as rt

    sections, bars = [], []
    for component in rt.components(records):
        chosen, borrowed = rt.ablation_records(records, component)
        rt.check_consistent(chosen, row="variant")
        table = rt.PAPER_TABLE_OF_COMPONENT.get(component, 4)
        published = rt.published_frame(paper, table or 0, metrics)
        summary = rt.attach_published(rt.ablation_frame(chosen, metrics), published, key="variant")
        views = [ablation_view(summary, metrics, component, table, borrowed)]
        if (block := published_view(published, table)) is not None:
            views.append(block)
        stem = f"ablation_{component}"
        title = f"Ablation: {component}" + (f" (Table {table})" if table else "")
        sections.append(Section(stem, title, views, _failed_as_text(summary, "mean"), paper[paper["table"] == table]))
        bars.append((f"Ablation of {component}: test metrics, mean ± std over seeds", summary, stem))
        if component == "experts":
            sections += _grid_sections(chosen, paper)
    return sections, bars


def _grid_sections(records, paper) -> list[Section]:
    from bench.report_tables import PAPER_GRID_TABLE, expert_grid, published_frame

    grid = expert_grid(records, "recall@10", stage="valid")
    if grid.empty:
        return []
    views = [grid_view(grid, "recall@10")]
    if (block := published_view(published_frame(paper, PAPER_GRID_TABLE, ["recall@10", "ndcg@10", "mrr"]), PAPER_GRID_TABLE)) is not None:
        views.append(block)
    published = paper[paper["table"] == PAPER_GRID_TABLE]
    return [Section("experts_grid", f"Experts K x query tokens L (Table {PAPER_GRID_TABLE})", views, _failed_as_text(grid, "mean"), published)]


# ---------------------------------------------------------------- writing


def _write(path: Path, text: str, written: list[Path]) -> None:
    from bench.splits import atomic_write_text

    atomic_write_text(path, text)
    written.append(path)


def write_sections(folder: Path, sections: Sequence[Section]) -> list[Path]:
    written: list[Path] = []
    for s in sections:
        _write(folder / f"{s.stem}.csv", s.frame.to_csv(index=False), written)
        if s.published is not None and not s.published.empty:
            _write(folder / f"{s.stem}_published.csv", s.published.to_csv(index=False), written)
        _write(folder / f"{s.stem}.tex", latex_table(s), written)
    if sections:
        _write(folder / "tables.tex", latex_document([latex_table(s) for s in sections]), written)
    return written


STALE_NOTE = "their config or code changed since they ran; rerun them"


def stale_lines(stale, records) -> list[str]:
    """The README's note on the records left out as stale; a stale record whose run has a current
    record too (it was rerun) is counted but not listed."""
    if not stale:
        return []
    done = {(r.get("name"), r.get("dataset"), r.get("seed")) for r in records}
    pending = [r for r in stale if (r.get("name"), r.get("dataset"), r.get("seed")) not in done]
    listed = "; ".join(f"{r.get('name')} on {r.get('dataset')}, seed {r.get('seed')}" for r in pending)
    text = f"{len(stale)} record{'s' if len(stale) != 1 else ''} left out as stale: {STALE_NOTE}"
    text += f" ({listed})" if listed else ""
    if len(pending) < len(stale):
        text += f"; {len(stale) - len(pending)} of them already rerun with the current config and code"
    return [text + ".", ""]


def readme(title: str, records, sections: Sequence[Section], figures: Sequence[tuple[str, list[Path]]], stale: Sequence[dict[str, Any]] = ()) -> str:
    from bench.report_tables import split_hashes

    failed = sum(r.get("status") != "ok" for r in records)
    hashes = ", ".join(f"{d} `{h}`" for d, h in split_hashes(records).items())
    lines = [f"# {title}", "", f"Protocol: {PROTOCOL}.", ""]
    lines += [f"Split hash: {hashes}. Runs: {len(records)} ({failed} failed).", ""] if records else ["No current runs: nothing to tabulate.", ""]
    lines += stale_lines(stale, records)
    if sections:
        lines += ["Each table is also written as CSV and as LaTeX (booktabs) beside this file; `tables.tex` compiles on its own.", ""]
    for s in sections:
        lines += [f"## {s.title}", ""] + [markdown_table(v) for v in s.views]
    if figures:
        lines += ["## Figures", ""]
        for caption, paths in figures:
            lines += [f"![{caption}]({paths[0].name})", "", f"*{caption}* ([PDF]({paths[1].name}))", ""]
    return "\n".join(lines)


def write_report(folder: Path, title: str, records, sections, figures, stale: Sequence[dict[str, Any]] = ()) -> list[Path]:
    written = write_sections(folder, sections)
    written += [p for _, paths in figures for p in paths]
    _write(folder / "README.md", readme(title, records, sections, figures, stale), written)
    return written


def suite_figures(records, folder: Path) -> list[tuple[str, list[Path]]]:
    from bench import report_figures as rf
    from bench import report_tables as rt

    figures = [
        ("Trainable parameters (log scale) vs test NDCG@10", rf.params_scatter(rt.params_vs_metric(records, "ndcg@10"), "NDCG@10", folder, "params_vs_ndcg10")),
        ("Validation NDCG@10 per epoch, as each method logged it for model selection (some select on a subset of validation users)", rf.training_curves(rt.curves_frame(records), folder, "training_curves")),
        ("Training diagnostics of the LLM runs: loss against a uniform guess and MostPop, item-matrix mean cosine and effective rank, by examples seen", rf.training_diagnostics(rt.diagnostics_frame(records), folder, "training_diagnostics")),
        ("M-Former expert usage per user group", rf.expert_usage(rt.expert_usage_frame(records), folder, "expert_usage")),
    ]
    return [(caption, paths) for caption, paths in figures if paths]


def suite_report(records, folder: Path, suite: str, metrics: Sequence[str], stale: Sequence[dict[str, Any]] = ()) -> list[Path]:
    from bench.report_tables import check_consistent, load_paper_results

    if not records:  # every run of the suite is stale: the README says so, no table is drawn
        return write_report(folder, f"Suite `{suite}`", records, [], [], stale)
    check_consistent(records)
    paper = load_paper_results()
    sections = [main_section(records, metrics, paper), parameter_section(records, paper), cost_section(records)]
    sections += hyperparameter_sections(records)
    return write_report(folder, f"Suite `{suite}`", records, sections, suite_figures(records, folder), stale)


def ablation_report(records, folder: Path, metrics: Sequence[str], stale: Sequence[dict[str, Any]] = ()) -> list[Path]:
    from bench import report_figures as rf
    from bench.report_tables import load_paper_results

    if not records:
        return write_report(folder, "Ablations", records, [], [], stale)
    sections, bars = ablation_sections(records, metrics, load_paper_results())
    figures = [(caption, rf.ablation_bars(summary, folder, stem)) for caption, summary, stem in bars]
    return write_report(folder, "Ablations", records, sections, [(c, p) for c, p in figures if p], stale)


def build_reports(
    results: Path,
    out: Path,
    suite: str | None = None,
    metrics: Sequence[str] | None = None,
    ks: Sequence[int] | None = None,
    is_current: Callable[[dict[str, Any]], bool] | None = None,
) -> list[Path]:
    """Tables and figures for one suite (or every suite with records, plus the ablations); never trains.

    `is_current(record)` says whether a record's key is the one today's code gives its run (the
    CLI passes `bench.runner.is_current`; this module never builds a method). Records for which
    it is False are stale: left out of every table and listed in the README. None: all current."""
    from bench.report_tables import memberships, resolve_metrics
    from bench.results import iter_records, runs_dir
    from bench.suites import suite_names

    metrics = resolve_metrics(metrics, ks)
    records = [record for _, record in iter_records(Path(results))]
    if not records:
        raise UserError(f"no run records under {runs_dir(Path(results))}; run `bench run` first")
    fresh = [is_current is None or is_current(r) for r in records]
    current = [r for r, ok in zip(records, fresh) if ok]
    stale = [r for r, ok in zip(records, fresh) if not ok]
    out = Path(out)
    written: list[Path] = []
    for name in [suite] if suite else suite_names():
        chosen, old = suite_records(current, name), suite_records(stale, name)
        if chosen or old:
            label = Path(name).stem  # a suite may be given as a YAML path
            written += suite_report(chosen, out / label, label, metrics, old)
        elif suite:
            raise UserError(f"no run record under {runs_dir(Path(results))} belongs to suite {suite!r}; run `bench run --suite {suite}` first")
    if suite is None:
        tagged, old = [r for r in current if memberships(r)], [r for r in stale if memberships(r)]
        if tagged or old:
            written += ablation_report(tagged, out / "ablations", metrics, old)
    if not written:
        raise UserError(f"none of the {len(records)} run records belongs to a suite or an ablation")
    return written
