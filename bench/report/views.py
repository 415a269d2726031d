"""Frames laid out as tables: the main table (paper Table 2), published blocks, parameters (Table 3), cost, resolved configs, ablations (Tables 4-7)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from bench.report.records import FLOOR_FAMILY, PAPER_DATASETS, PAPER_FIGURE_ORDERING, PAPER_SOURCE, metric_label
from bench.report.frames import CONFIG_GROUP_OF_FAMILY, VERSION_SETTING, cost_frame, hyperparameter_frame
from bench.report.layout import (
    BETTER_MARK, WORSE_MARK, Cell, PROTOCOL, Section, TableView, WILCOXON_NOTE, WILCOXON_TEST, _datasets, _present, _seed_note, _status_notes,
    _with_published, _yes_no, fmt, fmt_count, fmt_p, seed_counts, seed_rows_note, seeds_phrase, summary_cell,
)

MIXED_MARK = "§"


def _mixed_note(mixed: dict) -> list[str]:
    """The legend of MIXED_MARK, naming each marked row's seeds and their precisions."""
    if not mixed:
        return []
    rows = "; ".join(f"{name} ({which})" for name, which in mixed.items())
    return [f"{MIXED_MARK}: the row's seeds trained at different precisions (dtype and autocast `auto` follow the host's bf16 support), so they are not the same arithmetic: {rows}."]


# ---------------------------------------------------------------- main table (Table 2)


def main_view(summary, improv, metrics: Sequence[str], versus_floor=None, versus_llm=None, mixed: dict | None = None) -> TableView:
    """`improv`: the best Laser row against the best other row; `versus_floor`: against the floor row
    (MostPop), the least a learning method must beat; `versus_llm`: against each tuned-LLM row
    (all from `improvements`); `mixed`: rows (by name) whose seeds trained at different precisions
    (`mixed_precision`)."""
    from bench.report import CONTROL_FAMILY, FLOOR_FAMILY, metric_label

    datasets = _datasets(summary)
    side = {d: _with_published(summary, d) for d in datasets}
    columns, header = ["Family", "Method", "Collab. IDs"], [("", 3)]
    for d in datasets:
        cols = [c for m in metrics for c in [metric_label(m)] + ([f"{metric_label(m)} (paper)"] if side[d] else [])]
        columns += cols
        header.append((d, len(cols)))
    cells = {(r.name, r.dataset, r.metric): r for r in summary.itertuples(index=False)}
    rows, breaks, previous, floor, controls = [], [], None, [], []
    for family, name, uses in summary.drop_duplicates(["family", "name"])[["family", "name", "uses_ids"]].itertuples(index=False):
        if family != previous and rows and family not in (FLOOR_FAMILY, CONTROL_FAMILY):
            breaks.append(len(rows))
        row = [Cell(family if family != previous else ""), Cell(name, mark=MIXED_MARK if name in (mixed or {}) else ""), Cell(_yes_no(uses))]
        for d in datasets:
            for m in metrics:
                r = cells.get((name, d, m))
                row.append(summary_cell(r) if r is not None else Cell("–"))
                if side[d]:
                    row.append(Cell(fmt(r.published) if r is not None else "–"))
        {FLOOR_FAMILY: floor, CONTROL_FAMILY: controls}.get(family, rows).append(row)
        previous = family
    if not improv.empty:
        breaks.append(len(rows))
        rows.append(_improv_row(improv, datasets, metrics, side))
    # below the Improv. row, which does not compare with them: the controls, then the floor that
    # closes the table (what no method should fall under)
    for block in (controls, floor):
        if block:
            breaks.append(len(rows))
            rows += block
    counts = seed_counts(summary)
    notes = [_seed_note(summary), *seed_rows_note(counts), "Bold: best in the column; underlined: runner-up."]
    notes += _status_notes(summary)
    notes += _mixed_note(mixed)
    notes.append("Collab. IDs: whether the method uses collaborative item-ID information (ID embeddings or a pre-trained ID encoder).")
    if controls:
        notes.append(
            f"{CONTROL_FAMILY} (below Improv.): the harness's controls, not methods of the paper (mformer_tower: M-Former without the LLM; "
            "laser_fusion: a Laser run's scores fused with its own BERT4Rec encoder's); they take no place and are not in Improv."
        )
    if floor:
        notes.append(
            f"{FLOOR_FAMILY} (last rows): the floor; MostPop ranks items by their count in the training sequences, the same list for every user "
            "(Collab. IDs yes: the counts are per item ID, pooled over all users' interactions)."
        )
    if not improv.empty:
        notes.append("Improv.: relative gain of the best Laser row over the best non-Laser row of each column. " + WILCOXON_NOTE)
        notes += [
            f"{i.dataset} {metric_label(i.metric)}: {i.laser} vs {i.baseline}, {_p_and_sample(i)}"
            for i in improv.itertuples(index=False)
        ]
    if any(side.values()):
        notes.append("(paper): the published value of the same model on the same dataset (Zhang et al. 2024, arXiv 2409.01605, Table 2).")
    if versus_floor is not None and not versus_floor.empty:
        notes += [
            f"{i.dataset} {metric_label(i.metric)}: {i.laser} vs the floor ({i.baseline}), {i.improv_percent:+.1f}%, {_p_and_sample(i)}"
            for i in versus_floor.itertuples(index=False)
        ]
    if versus_llm is not None and not versus_llm.empty:
        notes += [
            f"{i.dataset} {metric_label(i.metric)}: {i.laser} vs {i.baseline} (tuned LLM: the same engine, profile and training examples), "
            f"{i.improv_percent:+.1f}%, {_p_and_sample(i)}"
            for i in versus_llm.itertuples(index=False)
        ]
    notes.append(f"Protocol: {PROTOCOL}.")
    return TableView(f"Main results (paper Table 2 layout), {seeds_phrase(counts.values())}", columns, rows, header, breaks, notes, left=3)


def _p_and_sample(i) -> str:
    """A row of `improvements` as its note ends: the p-value and what it was computed over."""
    return f"p = {i.p_value:.3g} ({i.users} users, {i.seeds} seed{'s' if i.seeds != 1 else ''})."


def _improv_row(improv, datasets: list[str], metrics: Sequence[str], side: dict[str, bool]) -> list[Cell]:
    gains = {(i.dataset, i.metric): i for i in improv.itertuples(index=False)}
    row = [Cell(""), Cell("Improv."), Cell("")]
    for d in datasets:
        for m in metrics:
            g = gains.get((d, m))
            if g is None or math.isnan(g.improv_percent):
                row.append(Cell("–"))
            else:
                row.append(Cell(f"{g.improv_percent:+.1f}%", mark=BETTER_MARK if g.significant else WORSE_MARK if g.significantly_worse else ""))
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
    )[["family", "name", "dataset", "metric", "mean", "p_value", "significant", "significantly_worse"]]
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
    from bench.report import PAPER_DATASETS, PAPER_SOURCE, metric_label

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
    caption = f"Published ({PAPER_DATASETS}): {PAPER_SOURCE}, Table {table}; the paper does not state its seeds"
    return TableView(caption, columns, rows, [("", 1)] + [(d, len(metrics)) for d in datasets], notes=notes)


def published_parameters_view(paper) -> TableView:
    from bench.report import PAPER_SOURCE

    rows = paper[paper["table"] == 3]
    cells = [[Cell(r.model), Cell(r.note if isinstance(r.note, str) else ""), Cell(fmt_count(r.trainable))] for r in rows.itertuples(index=False)]
    return TableView(f"Published: {PAPER_SOURCE}, Table 3 (parameter counts: no seed involved)", ["Model", "Note", "Trainable"], cells, notes=["ChatGLM2-6B backbone for Laser."], left=2)


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
    return TableView("Trainable parameters (paper Table 3 layout), 1 seed per row (its first finished; counts do not depend on the seed)", columns, rows, notes=notes, left=4)


def parameter_csv(params):
    out = params.copy()
    for column in ("llm_side_trainable", "trainable", "trainable_percent", "total"):
        out[column] = out[column].astype(object)
        out.loc[out["status"] != "ok", column] = "failed"
    return out


# ---------------------------------------------------------------- cost per run


def cost_view(costs, seeds: str = "1 seed per row (its first finished)") -> TableView:
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
        "Test metrics. Examples/s and tokens/s: training throughput per process, averaged over the run's training epochs (LLM methods report it; RecBole's trainer does not: '–').",
        "Wall s: training + evaluation of the run; peak memory: the run's peak RSS in MB (CUDA: torch.cuda.max_memory_allocated). Runs that shared the machine with others are slower than alone.",
    ]
    columns = ["Method", "Dataset", "Item IDs", "R@10", "N@10", "MRR", "Trainable", "Examples/s", "Tokens/s", "Wall s", "Peak MB"]
    return TableView(f"Accuracy and cost per run, {seeds}", columns, rows, notes=notes, left=3)


def cost_section(records) -> Section:
    from bench.report import cost_frame, representative_runs

    costs = cost_frame(records)
    view_frame = costs.rename(columns={"recall@10": "recall_10", "ndcg@10": "ndcg_10"})
    chosen = sorted({r.get("seed") for *_, r in representative_runs(records)})
    seeds = f"1 seed per row (seed {chosen[0]})" if len(chosen) == 1 else f"1 seed per row (its first finished: seeds {', '.join(map(str, chosen))})"
    return Section("costs", "Accuracy and cost per run", [cost_view(view_frame, seeds)], costs)


# ---------------------------------------------------------------- resolved configs


def hyperparameter_views(frame) -> list[TableView]:
    """A table per config group (families sharing one kind of config): a column per method, a row
    per setting whose value differs between them; settings equal in every column go to a note (a
    lone method shows all of its settings). The method version is in the CSV only."""
    from bench.report import CONFIG_GROUP_OF_FAMILY, VERSION_SETTING

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
        views.append(TableView(f"Resolved configs: {group} (a run's config is the same at every seed)", ["Setting"] + members, rows, notes=notes))
    return views


def hyperparameter_sections(records) -> list[Section]:
    from bench.report import VERSION_SETTING, hyperparameter_frame

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


def ablation_view(summary, metrics: Sequence[str], component: str, table: int | None, borrowed_from: str | None, mixed: dict | None = None, published_under: str | None = None) -> TableView:
    """Per metric: ours (mean ± std), where it lies against the full model and the paired test's p,
    then, where the paper has the dataset, the paper's number and where it lies against the paper's
    full Laser; where the paper lacks it, where the variant lies against the paper's full Laser on
    each of the paper's datasets. A note under the table says in words each place where the two
    orderings disagree. `mixed`: rows (by name) whose seeds trained at different precisions;
    `published_under`: the section that already prints the paper's table (printed once)."""
    from bench.report import metric_label

    datasets = _datasets(summary)
    side = {d: _with_published(summary, d) for d in datasets}
    elsewhere = {d: [] if side[d] else _paper_datasets_beside(summary, d) for d in datasets}
    columns, header = ["Variant"], [("", 1)]
    for d in datasets:
        paper_cols = ["(paper)", "(paper) vs full"] if side[d] else [f"paper vs full ({p})" for p in elsewhere[d]]
        cols = [c for m in metrics for c in [metric_label(m), "vs full", "p"] + paper_cols]
        columns += cols
        header.append((d, len(cols)))
    cells = {(r.name, r.dataset, r.metric): r for r in summary.itertuples(index=False)}
    # read by column name: a paper dataset's name need not make an attribute
    gaps = {
        (row["name"], row["dataset"], row["metric"], p): (row[f"published_drop_percent_{p}"], row[f"published_sign_{p}"])
        for row in summary.to_dict("records")
        for p in _paper_datasets(summary)
    }
    rows = []
    for name in dict.fromkeys(summary["name"]):
        row = [Cell(name, mark=MIXED_MARK if name in (mixed or {}) else "")]
        for d in datasets:
            for m in metrics:
                r = cells.get((name, d, m))
                if r is None:
                    row += [Cell("–")] * (3 + (2 if side[d] else len(elsewhere[d])))
                    continue
                full = r.variant == "full"  # the reference row: nothing to compare it with
                row += [summary_cell(r), Cell("" if full else _versus(r.drop_percent, r.sign)), Cell("" if full else fmt_p(r.p_value))]
                if side[d]:
                    row += [Cell(fmt(r.published)), Cell("" if full else _versus(r.published_drop_percent, r.published_sign))]
                row += [Cell("" if full else _versus(*gaps[(name, d, m, p)])) for p in elsewhere[d]]
        rows.append(row)
    counts = seed_counts(summary)
    notes = [
        _seed_note(summary),
        *seed_rows_note(counts),
        "vs full: how far the variant's mean lies below or above the full model's, in % of the full model's mean (the CSV's drop_percent = (full − variant) / full × 100)"
        + (", each mean over its own row's seeds." if len(set(counts.values())) > 1 else "."),
        "p: the p-value of " + WILCOXON_TEST.format(pair="the variant vs the full model") + "; '–' where they share no seed.",
    ]
    notes += _status_notes(summary)
    notes += _mixed_note(mixed)
    if not (summary["variant"] == "full").any():
        notes.append("No full-model run was found for this component, so no comparison is given.")
    if borrowed_from:
        notes.append(f"The full model's row is every seed of the one full run that serves every component, including those run for component {borrowed_from}.")
    source = f"Zhang et al. 2024, arXiv 2409.01605, Table {table}"
    if any(side.values()):
        notes.append(f"(paper): the published value of the same variant; (paper) vs full: the same comparison with the paper's full Laser ({source}).")
    if any(elsewhere.values()):
        lacking = ", ".join(d for d in datasets if elsewhere[d])
        notes.append(
            f"paper vs full (X): where the same variant lies against the paper's full Laser on the paper's dataset X ({source}); "
            f"the paper has no {lacking}, so its numbers are not set beside ours, only its orderings."
        )
    if renamed := _renamed_variants(summary):
        notes.append(f"The paper's names for our variants: {renamed}.")
    if published_under:
        notes.append(f"The paper's Table {table} is printed once, under {published_under}.")
    notes += _order_differences(summary)
    notes += _figure_orderings(summary, component)
    notes.append(f"Protocol: {PROTOCOL}.")
    caption = f"Ablation of {component}" + (f" (paper Table {table} layout)" if table else "") + f", {seeds_phrase(counts.values())}"
    return TableView(caption, columns, rows, header, [1] if len(rows) > 1 else [], notes)


def _paper_datasets(summary) -> list[str]:
    """The paper's datasets that `attach_paper_order` compared rows on datasets it lacks with."""
    return [c.removeprefix("published_sign_") for c in summary.columns if c.startswith("published_sign_")]


def _paper_datasets_beside(summary, dataset: str) -> list[str]:
    """Those of the paper's datasets where it has a number for some variant of ours on `dataset`."""
    rows = summary[summary["dataset"] == dataset]
    return [p for p in _paper_datasets(summary) if rows[f"published_sign_{p}"].notna().any()]


def _renamed_variants(summary) -> str:
    """"no_phase1 = no_stage1, ...": our variants compared with a paper row of another name."""
    if "paper_key" not in summary:
        return ""
    has_number = summary["published"].notna() | summary[[f"published_sign_{p}" for p in _paper_datasets(summary)]].notna().any(axis=1)
    pairs = dict.fromkeys((v, k) for v, k, n in zip(summary["variant"], summary["paper_key"], has_number) if n and v != k)
    return ", ".join(f"{v} = {k}" for v, k in pairs)


def _and(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


# how a sign reads in a sentence: "<variant> is <phrase> the full model"
_ORDER_PHRASE = {"below": "below", "above": "above", "equal": "level with"}


def _versus(drop_percent: float, sign: str | None) -> str:
    """The cell: "12.3% below", "4.1% above" or "equal"; "–" without a sign (a failed run, no full model)."""
    if sign is None:
        return "–"
    if sign == "equal" or not math.isfinite(drop_percent):  # a zero full mean has no relative change
        return sign
    return f"{abs(drop_percent):.1f}% {sign}"


def _order_differences(summary) -> list[str]:
    """A sentence for each variant, dataset and metric where our ordering against the full model is
    not the paper's: the paper's datasets differ from ours, so its orderings are what we can check.
    On a dataset the paper has, against the paper there; on one it lacks, against each of its
    datasets, naming those where the paper's ordering is not ours."""
    if "differs" not in summary:
        return []
    lines = []
    for r in summary[summary["differs"]].to_dict("records"):
        test = f"p = {fmt_p(r['p_value'])}" if _present(r["p_value"]) else "no shared seed to test"
        head = f"Ours differs from the paper on {r['dataset']} {metric_label(r['metric'])}: {r['name']} is {_ORDER_PHRASE[r['sign']]} the full model here ({test}), "
        if r["published_sign"] is not None:  # the paper has this dataset: its own number is the one compared
            lines.append(head + f"{_ORDER_PHRASE[r['published_sign']]} it in the paper.")
            continue
        by_sign: dict[str, list[str]] = {}
        for p in r["differs_on"].split(", "):
            by_sign.setdefault(r[f"published_sign_{p}"], []).append(p)
        parts = [f"{_ORDER_PHRASE[sign]} it" + (" in the paper" if i == 0 else "") + f" on {_and(ps)}" for i, (sign, ps) in enumerate(by_sign.items())]
        lines.append(head + ", ".join(parts) + ".")
    return lines


def _figure_orderings(summary, component: str) -> list[str]:
    """A sentence per variant whose ordering the paper shows only in a figure (PAPER_FIGURE_ORDERING):
    which of our metrics agree with the figure's sign and which do not."""
    lines = []
    for name, variant in dict.fromkeys(zip(summary["name"], summary["variant"])):
        if (component, variant) not in PAPER_FIGURE_ORDERING:
            continue
        paper_sign, shown = PAPER_FIGURE_ORDERING[(component, variant)]
        rows = summary[(summary["name"] == name) & summary["sign"].notna()].to_dict("records")
        differ = [r for r in rows if r["sign"] != paper_sign]
        paper_has = f"{name} {_ORDER_PHRASE[paper_sign]} the full model ({PAPER_SOURCE}, {shown}; no published numbers to set beside ours)"
        if not rows:
            lines.append(f"The paper has {paper_has}; no comparison here.")
        elif not differ:
            lines.append(f"The paper has {paper_has}; ours agrees on every metric.")
        else:
            where = "; ".join(
                f"{r['dataset']} {metric_label(r['metric'])}: {_ORDER_PHRASE[r['sign']]} it (p = {fmt_p(r['p_value'])})" if _present(r["p_value"])
                else f"{r['dataset']} {metric_label(r['metric'])}: {_ORDER_PHRASE[r['sign']]} it"
                for r in differ
            )
            lines.append(f"Ours differs from the paper, which has {paper_has}: here it is {where}.")
    return lines


def grid_view(grid, metric: str) -> TableView:
    from bench.report import metric_label

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
    caption = f"Experts K x query tokens L (paper Table 7 layout), validation {metric_label(metric)}, {seeds_phrase(grid['n_ok'], per='cell')}"
    return TableView(caption, ["Dataset", "K \\ L"] + [str(l) for l in ls], rows, [("", 2), ("L query tokens", len(ls))], notes=notes, left=2)
