"""`bench report`: pick each suite's records, build its sections, write tables, figures and a README.

Records are read only through `bench.results.iter_records`; nothing is trained."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.report.records import FLOOR_FAMILY, PAPER_GRID_TABLE, TUNED_LLM_FAMILY, check_consistent, resolve_metrics, split_hashes
from bench.report.frames import parameter_frame
from bench.report.ablation_frames import expert_grid, load_paper_results, memberships, published_frame
from bench.report.layout import PROTOCOL, Section, seeds_phrase
from bench.report.views import _failed_as_text, ablation_view, cost_section, grid_view, hyperparameter_sections, main_csv, main_view, parameter_csv, parameter_view, published_parameters_view, published_view
from bench.report.render import latex_document, latex_table, markdown_table


# ---------------------------------------------------------------- record selection


def _same_config(record_config: dict | None, spec_config: dict) -> bool:
    """Equal configs; the LLM chosen at run time (`bench run --llm`) is not part of a suite's spec."""
    from bench.configs import canonical_json

    config = dict(record_config or {})
    if "llm" not in spec_config:
        config.pop("llm", None)
    return canonical_json(config) == canonical_json(spec_config)


def suite_records(
    records: Sequence[dict[str, Any]], suite: str, runs_as: Callable[[dict[str, Any], dict], bool] | None = None
) -> list[dict[str, Any]]:
    """Records of the suite's runs (name, dataset, seed and config as expanded, on the suite's
    split settings), in the suite's order. The split settings keep a few-shot suite's runs, which
    share names, seeds and configs with the main suite's, out of the main suite's tables and back.

    `runs_as(record, config)`: whether the spec's `config` makes the record's run today (the same
    key). With it, a run started with explicit `--set` values that are now the defaults counts,
    as it does for `bench run`, which finds it done."""
    from bench.report.records import split_identity
    from bench.suites import expand, load_suite

    chosen_suite = load_suite(suite)
    specs = expand(chosen_suite)
    order = {(s.name, s.dataset, s.seed): i for i, s in enumerate(specs)}
    configs = {(s.name, s.dataset, s.seed): s.config for s in specs}
    split = split_identity(chosen_suite.split)  # valid: load_suite checked it

    def belongs(r, config) -> bool:
        if split_identity(r.get("split_settings")) != split:
            return False
        return _same_config(r.get("config"), config) or (runs_as is not None and runs_as(r, config))

    chosen = [r for r in records if (ident := (r.get("name"), r.get("dataset"), r.get("seed"))) in configs and belongs(r, configs[ident])]
    return sorted(chosen, key=lambda r: order[(r["name"], r["dataset"], r["seed"])])


# ---------------------------------------------------------------- sections


def main_section(records, metrics: Sequence[str], paper) -> Section:
    from bench import report as rt

    runs = rt.runs_frame(records, metrics)
    summary = rt.by_family(rt.add_places(rt.summarize(runs, metrics, rows=("family", "name", "method", "uses_ids"))))
    published = rt.published_frame(paper, 2, metrics)
    summary = rt.attach_published(summary, published, key="method")
    improv = rt.improvements(summary, records)
    versus_floor = rt.improvements(summary, records, family=FLOOR_FAMILY)
    versus_llm = rt.improvements(summary, records, family=TUNED_LLM_FAMILY, each=True)
    views = [main_view(summary, improv, metrics, versus_floor, versus_llm, rt.mixed_precision(records))]
    if (block := published_view(published, 2)) is not None:
        views.append(block)
    return Section("main_table", "Main results (Table 2)", views, main_csv(summary, improv), paper[paper["table"] == 2])


def parameter_section(records, paper) -> Section:
    from bench.report import parameter_frame

    params = parameter_frame(records)
    views = [parameter_view(params), published_parameters_view(paper)]
    return Section("parameters", "Trainable parameters (Table 3)", views, parameter_csv(params), paper[paper["table"] == 3])


def ablation_sections(records, metrics: Sequence[str], paper) -> tuple[list[Section], list[tuple[str, Any, str]]]:
    """A section per component (plus the K x L grid for "experts"), and the data of their bar charts."""
    from bench import report as rt

    sections, bars = [], []
    printed: dict[int, str] = {}  # a published table is printed once, under the first section that compares with it
    for component in rt.components(records):
        section, summary, chosen = ablation_section(records, component, metrics, paper, printed)
        sections.append(section)
        counts = rt.seed_counts(summary)
        seeds = seeds_phrase(counts.values(), per="bar") + (f" ({', '.join(f'{n} {c}' for n, c in counts.items())})" if len(set(counts.values())) > 1 else "")
        bars.append((f"Ablation of {component}: test metrics, mean ± std over {seeds}", summary, section.stem))
        if component == "experts":
            sections += _grid_sections(chosen, paper)
    return sections, bars


def ablation_section(records, component: str, metrics: Sequence[str], paper, printed: dict[int, str] | None = None) -> tuple[Section, Any, list[dict[str, Any]]]:
    """One component's table (the records of every component may be passed) -> (section, its
    summary frame, the records it is over). `printed`: the published tables earlier sections
    already print (table -> section title), filled in here; a table is printed once, the later
    sections point to it."""
    from bench import report as rt

    printed = {} if printed is None else printed
    chosen, borrowed = rt.ablation_records(records, component)
    rt.check_consistent(chosen, row="variant")
    table = rt.PAPER_TABLE_OF_COMPONENT.get(component)
    published = rt.published_frame(paper, table or 0, metrics)
    summary = rt.compare_with_paper(rt.ablation_frame(chosen, metrics), published)
    stem = f"ablation_{component}"
    title = f"Ablation: {component}" + (f" (Table {table})" if table else "")
    block = published_view(published, table)
    views = [ablation_view(summary, metrics, component, table, borrowed, rt.mixed_precision(chosen), printed.get(table) if block is not None else None)]
    shown = None
    if block is not None and table not in printed:
        views.append(block)
        printed[table] = title
        shown = paper[paper["table"] == table]
    return Section(stem, title, views, _failed_as_text(summary, "mean"), shown), summary, chosen


def _grid_sections(records, paper) -> list[Section]:
    from bench.report import PAPER_GRID_TABLE, expert_grid, published_frame

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
    from bench.io import atomic_write_text

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


STALE_NOTE = "their config or code changed since they ran"


def stale_lines(stale, records) -> list[str]:
    """The README's note on the records left out as stale; a stale record whose run has a current
    record too (it was rerun) is counted but not listed."""
    if not stale:
        return []
    done = {(r.get("name"), r.get("dataset"), r.get("seed")) for r in records}
    pending = [r for r in stale if (r.get("name"), r.get("dataset"), r.get("seed")) not in done]
    listed = "; ".join(f"{r.get('name')} on {r.get('dataset')}, seed {r.get('seed')}" for r in pending)
    text = f"{len(stale)} record{'s' if len(stale) != 1 else ''} left out as stale: {STALE_NOTE}"
    text += f"; rerun them ({listed})" if listed else ""
    if len(pending) < len(stale):
        text += f"; {len(stale) - len(pending)} of them already rerun with the current config and code"
    return [text + ".", ""]


def readme(
    title: str, records, sections: Sequence[Section], figures: Sequence[tuple[str, list[Path]]], stale: Sequence[dict[str, Any]] = (), remarks: Sequence[str] = ()
) -> str:
    """`remarks`: lines on what a section could not show (e.g. a split that could not be read)."""
    from bench.report import split_hashes

    failed = sum(r.get("status") != "ok" for r in records)
    hashes = ", ".join(f"{d} `{h}`" for d, h in split_hashes(records).items())
    lines = [f"# {title}", "", f"Protocol: {PROTOCOL}.", ""]
    lines += [f"Split hash: {hashes}. Runs: {len(records)} ({failed} failed).", ""] if records else ["No current runs: nothing to tabulate.", ""]
    lines += few_shot_lines(records)
    lines += stale_lines(stale, records)
    lines += [line for remark in remarks for line in (remark, "")]
    if sections:
        lines += ["Each table is also written as CSV and as LaTeX (booktabs) beside this file; `tables.tex` compiles on its own.", ""]
    for s in sections:
        lines += [f"## {s.title}", ""] + [markdown_table(v) for v in s.views]
    if figures:
        lines += ["## Figures", ""]
        for caption, paths in figures:
            lines += [f"![{caption}]({paths[0].name})", "", f"*{caption}* ([PDF]({paths[1].name}))", ""]
    return "\n".join(lines)


def few_shot_lines(records) -> list[str]:
    """What a few-shot suite's runs trained on (nothing for a full split)."""
    from bench.results import train_fraction

    shots = {(r.get("dataset"), train_fraction(r), r.get("n_train_users"), r.get("n_users"), (r.get("split_settings") or {}).get("train_fraction_seed", 0)) for r in records if train_fraction(r) < 1}
    lines = []
    for dataset, fraction, n_train, n_users, seed in sorted(shots, key=str):
        users = f" ({n_train} of {n_users} users)" if n_train is not None else ""
        lines += [f"Few-shot: on {dataset}, every method trained on {fraction * 100:g}% of the users{users}, drawn with split seed {seed}, the same users for every method and seed; validation and test cover every user, each scored from their own history.", ""]
    return lines


def write_report(folder: Path, title: str, records, sections, figures, stale: Sequence[dict[str, Any]] = (), remarks: Sequence[str] = ()) -> list[Path]:
    written = write_sections(folder, sections)
    written += [p for _, paths in figures for p in paths]
    _write(folder / "README.md", readme(title, records, sections, figures, stale, remarks), written)
    return written


def _figure_seeds(records, has) -> str:
    """The seeds a figure draws on: of the finished runs for which `has(record)`, per method row."""
    per_row: dict[tuple, set] = {}
    for r in records:
        if r.get("status") == "ok" and has(r):
            per_row.setdefault((r.get("name"), r.get("dataset")), set()).add(r.get("seed"))
    return seeds_phrase([len(s) for s in per_row.values()], per="method")


def suite_figures(records, folder: Path) -> list[tuple[str, list[Path]]]:
    from bench.report import figures as rf
    from bench import report as rt

    def trained(r):
        return bool((r.get("training") or {}).get("curve"))

    def diagnosed(r):
        return "loss_reference" in (r.get("training") or {})

    def routed(r):
        return bool((r.get("analysis") or {}).get("expert_usage"))

    def counted(r):
        return bool((r.get("parameters") or {}).get("trainable"))

    figures = [
        (f"Trainable parameters (log scale) vs test NDCG@10, mean ± std over {_figure_seeds(records, counted)}", rf.params_scatter(rt.params_vs_metric(records, "ndcg@10"), "NDCG@10", folder, "params_vs_ndcg10")),
        (f"Validation NDCG@10 per epoch, as each method logged it for model selection (some select on a subset of validation users), a line per seed: {_figure_seeds(records, trained)}", rf.training_curves(rt.curves_frame(records), folder, "training_curves")),
        (f"Training diagnostics of the LLM runs: loss against a uniform guess and MostPop, item-matrix mean cosine and effective rank, by examples seen, a line per seed: {_figure_seeds(records, diagnosed)}", rf.training_diagnostics(rt.diagnostics_frame(records), folder, "training_diagnostics")),
        (f"M-Former expert usage per user group, mean over {_figure_seeds(records, routed)}", rf.expert_usage(rt.expert_usage_frame(records), folder, "expert_usage")),
    ]
    return [(caption, paths) for caption, paths in figures if paths]


def suite_report(records, folder: Path, suite: str, metrics: Sequence[str], stale: Sequence[dict[str, Any]] = (), results: Path | None = None) -> list[Path]:
    """`results`: where the split the records name is saved (or its dataset imported), for the
    user-group table; None: that table is left out, and the README says why."""
    from bench.report import check_consistent, load_paper_results
    from bench.report.user_groups import user_group_section

    if not records:  # every run of the suite is stale: the README says so, no table is drawn
        return write_report(folder, f"Suite `{suite}`", records, [], [], stale)
    check_consistent(records)
    paper = load_paper_results()
    groups, remarks = user_group_section(records, results)
    sections = [main_section(records, metrics, paper), *([groups] if groups else []), parameter_section(records, paper), cost_section(records)]
    sections += hyperparameter_sections(records)
    return write_report(folder, f"Suite `{suite}`", records, sections, suite_figures(records, folder), stale, remarks)


def ablation_report(records, folder: Path, metrics: Sequence[str], stale: Sequence[dict[str, Any]] = (), known: Sequence[str] = ()) -> list[Path]:
    """`known`: every component `bench ablate` offers; those without a current record are listed as not run yet."""
    from bench.report import components
    from bench.report import figures as rf
    from bench.report import load_paper_results

    not_run = [f"`{c}`" for c in known if c not in set(components(records))]
    remarks = [f"Not run yet: {', '.join(not_run)} (listed by `bench ls`, no current record; `bench ablate --component NAME` runs one)."] if not_run else []
    if not records:
        return write_report(folder, "Ablations", records, [], [], stale, remarks)
    sections, bars = ablation_sections(records, metrics, load_paper_results())
    figures = [(caption, rf.ablation_bars(summary, folder, stem)) for caption, summary, stem in bars]
    return write_report(folder, "Ablations", records, sections, [(c, p) for c, p in figures if p], stale, remarks)


def claims_report(current, folder: Path, results: Path | None, runs_as: Callable[[dict[str, Any], dict], bool] | None = None) -> list[Path]:
    """The claims page over every current record: a claim's side names a suite's runs (the main
    suite's, a few-shot suite's) or an ablation component's."""
    from bench.report.ablation_frames import ablation_records, memberships
    from bench.report.claims import SUITE_POOLS
    from bench.report.claims_page import write_claims_page

    tagged = [r for r in current if memberships(r)]
    suites = {name: suite_records(current, name, runs_as) for name in SUITE_POOLS}
    return write_claims_page(folder, lambda name: suites[name] if name in suites else ablation_records(tagged, name)[0], results)


def build_reports(
    results: Path,
    out: Path,
    suite: str | None = None,
    metrics: Sequence[str] | None = None,
    ks: Sequence[int] | None = None,
    is_current: Callable[[dict[str, Any]], bool] | None = None,
    runs_as: Callable[[dict[str, Any], dict], bool] | None = None,
    components: Sequence[str] = (),
    pruned: list[Path] | None = None,
) -> list[Path]:
    """Tables and figures for one suite (or every suite with records, plus the ablations); never trains.

    `is_current(record)` says whether a record's key is the one today's code gives its run (the
    CLI passes `bench.runner.is_current`; this module never builds a method). Records for which
    it is False are stale: left out of every table and listed in the README. None: all current.
    `runs_as`: see `suite_records` (the CLI passes `bench.runner.is_run_of`). `components`: the
    ablation components `bench ablate` offers (the CLI passes them: this module knows no method),
    so that the ablations README lists those not run yet. Files an earlier build wrote into the
    folders it writes (all of `out`'s report folders without `suite`) and this one does not are
    removed (`bench.report.manifest`) and appended to `pruned`."""
    from bench.report import memberships, resolve_metrics
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
        chosen, old = suite_records(current, name, runs_as), suite_records(stale, name)
        if chosen or old:
            label = Path(name).stem  # a suite may be given as a YAML path
            written += suite_report(chosen, out / label, label, metrics, old, results=Path(results))
        elif suite:
            raise UserError(f"no run record under {runs_dir(Path(results))} belongs to suite {suite!r}; run `bench run --suite {suite}` first")
    if suite is None:
        tagged, old = [r for r in current if memberships(r)], [r for r in stale if memberships(r)]
        if tagged or old:
            written += ablation_report(tagged, out / "ablations", metrics, old, components)
        if written:  # the claims read the suites' and the ablations' runs together
            written += claims_report(current, out / "claims", Path(results), runs_as)
    if not written:
        raise UserError(f"none of the {len(records)} run records belongs to a suite or an ablation")
    from bench.report.manifest import record_and_prune

    lists, removed = record_and_prune(out, written, whole=suite is None)
    if pruned is not None:
        pruned += removed
    return written + lists
