"""`bench`: the command line. Subcommands are small functions; heavy imports happen inside them.

User errors print one line to stderr and exit 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# the names are bench.llm.backbone's EMBEDDED, which the CLI may not import (pyproject's import
# contracts); tests/test_embedded_backbones.py checks this line names every one of them
LLM_HELP = "a local Hugging Face causal LM folder, or an embedded backbone: smollm2-135m (the default) or gemma3-270m"


def _results(args) -> Path:
    return Path(args.results)


def _check_results(args) -> None:
    from bench.errors import UserError

    path = Path(args.results)
    if path.exists() and not path.is_dir():
        raise UserError(f"--results {path}: exists and is not a directory")


def apply_settings(specs, settings: list[str] | None):
    """`--set METHOD.KEY=VALUE` (VALUE read as YAML) onto the runs whose display or registry name
    is METHOD; validated like suite keys when the runs' methods are built (unknown keys suggest
    the nearest). The record's config and resolved config show what ran."""
    import dataclasses

    import yaml

    from bench.errors import UserError, unknown

    if not settings:
        return specs
    names = sorted({s.name for s in specs} | {s.method for s in specs})
    overrides: dict[str, dict] = {}
    for item in settings:
        target, eq, value = item.partition("=")
        method, dot, key = target.partition(".")
        if not eq or not dot or not method or not key:
            raise UserError(f"--set {item!r}: expected METHOD.KEY=VALUE, e.g. laser.lr=5e-4")
        if method not in names:
            raise unknown("--set method", method, names)
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as exc:
            raise UserError(f"--set {item!r}: VALUE is not YAML ({str(exc).splitlines()[0]})") from None
        if isinstance(parsed, str):  # YAML 1.1 reads 5e-4 as text; on a command line it is a number
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        node = overrides.setdefault(method, {})
        *path, last = key.split(".")
        for part in path:  # KEY may name a nested setting: laser.id_encoder_config.epochs=3
            node = node.setdefault(part, {})
        node[last] = parsed
    from bench.configs import deep_merge

    out = []
    for spec in specs:
        config = spec.config
        for method in (spec.method, spec.name):
            if method in overrides:
                config = deep_merge(config, overrides[method])
        out.append(dataclasses.replace(spec, config=config) if config is not spec.config else spec)
    return out


def cmd_ls(args) -> int:
    from bench.data.datasets import DATASETS
    from bench.methods import METHODS
    from bench.suites import suite_names

    print("datasets:")
    for name in DATASETS:
        print(f"  {name:12s} {DATASETS.help(name)}")
    print("methods:")
    for name in METHODS:
        print(f"  {name:12s} {METHODS.help(name)}")
    print("suites:")
    for name in suite_names():
        print(f"  {name}")
    from bench.ablations import components

    print("ablation components:")
    for name, help in sorted(components().items()):
        print(f"  {name:12s} {help}")
    return 0


def _print_table(records) -> None:
    cols = ["recall@5", "ndcg@5", "recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr"]
    print(f"\n{'method':16s} {'dataset':10s} seed " + " ".join(f"{c:>9s}" for c in cols) + f" {'epochs':>6s} {'time_s':>7s}")
    for r in records:
        if r.get("status") != "ok":
            print(f"{r['name']:16s} {r['dataset']:10s} {r['seed']:4d} FAILED: {r.get('error', '?')}")
            continue
        m = r["metrics"]["test"]
        epochs = (r.get("training") or {}).get("epochs", "")
        print(f"{r['name']:16s} {r['dataset']:10s} {r['seed']:4d} " + " ".join(f"{m[c]:9.4f}" for c in cols) + f" {epochs!s:>6s} {r['timings']['total_s']:7.0f}")


def _tally_line(tally, records) -> str:
    """How the runs of this command ended: reused, trained (and of those, failed)."""
    trained = tally["done"] + tally["kept"]
    failed = sum(r.get("status") == "failed" for r in records)
    parts = [f"{tally['skipped']} reused (finished records)", f"{trained} trained" + (f", {failed} of them failed" if failed else "")]
    if tally["locked"]:
        parts.append(f"{tally['locked']} left to another bench process running them")
    total = sum(tally[k] for k in ("skipped", "done", "kept", "locked"))
    return f"{total} run{'s' if total != 1 else ''}: " + "; ".join(parts) + "."


def _current_records(results: Path) -> list[dict]:
    from bench.results import iter_records
    from bench.runner import is_current

    return [r for _, r in iter_records(results) if is_current(r)]


def _with_this_commands_runs(records, ran) -> list[dict]:
    """The folder's records, with this command's finished runs in their place: a run made with
    --set values is not the suite's own run and would otherwise be left out of its table."""
    ident = lambda r: (r.get("name"), r.get("dataset"), r.get("seed"))  # noqa: E731
    chosen = {ident(r): r for r in records}
    for r in ran:
        if r.get("status") == "ok" or ident(r) not in chosen:
            chosen[ident(r)] = r
    return list(chosen.values())


def _styled() -> bool:
    return sys.stdout.isatty()


def _report_hint(args, options: str, folder: str) -> str:
    results = "" if args.results == "results" else f" --results {args.results}"
    return f"Full report (every table with its notes, figures): `bench report{options}{results}` writes {Path('reports') / folder / 'README.md'}."


def suite_summary(results: Path, suite: str, ran=()) -> str:
    """The suite's main table as the report draws it (mean ± std over every recorded seed, the
    floor row, significance against Laser), from the records of `results` and this command's
    runs `ran`."""
    from bench import report as rt
    from bench.errors import UserError
    from bench.runner import is_run_of

    records = _with_this_commands_runs(rt.suite_records(_current_records(results), suite, is_run_of), ran)
    if not records:
        return "No finished run of this suite to tabulate.\n"
    try:
        rt.check_consistent(records)
        section = rt.main_section(records, rt.DEFAULT_METRICS, rt.load_paper_results())
    except UserError as exc:
        return f"No summary table: {exc}\n"
    seeds = sorted({r["seed"] for r in records})
    head = f"Suite {Path(suite).stem}: {len(records)} recorded runs over seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))}.\n\n"
    return head + rt.text_table(section.views[0], styled=_styled())


def ablation_summary(results: Path, component: str, ran=(), seeds_run=()) -> str:
    """The component's table as the report's section draws it, over every recorded seed."""
    from bench import report as rt
    from bench.errors import UserError

    records = _with_this_commands_runs([r for r in _current_records(results) if rt.memberships(r)], ran)
    if not any(m["component"] == component for r in records for m in rt.memberships(r)):
        return f"No finished run of the {component} ablation to tabulate.\n"
    try:
        section, _, chosen = rt.ablation_section(records, component, rt.DEFAULT_METRICS, rt.load_paper_results())
    except UserError as exc:
        return f"No summary table: {exc}\n"
    seeds = sorted({r["seed"] for r in chosen})
    ran_seeds = f" (this command ran seed{'s' if len(seeds_run) != 1 else ''} {', '.join(map(str, seeds_run))})" if seeds_run else ""
    head = f"Ablation {component}: seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))} recorded{ran_seeds}.\n\n"
    return head + rt.text_table(section.views[0], styled=_styled())


def cmd_run(args) -> int:
    from collections import Counter

    from bench.runner import run_specs

    suite, specs = _suite_specs(args)
    tally: Counter = Counter()
    records = run_specs(specs, _results(args), suite.split, jobs=args.jobs, force=args.force, progress=not args.quiet, threads=args.threads, backend=args.joblib_backend, tally=tally)
    if args.per_seed:
        _print_table(records)
    print()
    print(suite_summary(_results(args), args.suite, records))
    print(_tally_line(tally, records))
    print(_report_hint(args, f" --suite {args.suite}", Path(args.suite).stem))
    return 1 if any(r.get("status") != "ok" for r in records) else 0


def _suite_specs(args):
    """The suite and its runs as `run` and `probe` take them: --methods, --seeds, --llm, --set."""
    from bench.suites import expand, load_suite

    suite = load_suite(args.suite)
    specs = expand(suite, args.methods, args.seeds)
    if args.llm:
        specs = [_with_llm(s, args.llm) for s in specs]
    return suite, apply_settings(specs, args.set)


def _with_llm(spec, llm: str):
    import dataclasses

    from bench.methods import METHODS

    return dataclasses.replace(spec, config=METHODS.get(spec.method).config_with_llm(spec.config, llm))


def cmd_ablate(args) -> int:
    from collections import Counter

    from bench.ablations import ablation_specs, main_suite
    from bench.runner import run_specs

    suite = main_suite()  # its Laser config and its split: the `full` variant is the main table's run
    seeds = args.seeds or [0]
    specs = ablation_specs(args.component, dataset=args.dataset, seeds=seeds, profile=args.profile, llm=args.llm, suite=suite, only=args.variants)
    specs = apply_settings(specs, args.set)
    tally: Counter = Counter()
    records = run_specs(specs, _results(args), suite.split, jobs=args.jobs, force=args.force, progress=not args.quiet, threads=args.threads, backend=args.joblib_backend, tally=tally)
    if args.per_seed:
        _print_table(records)
    print()
    print(ablation_summary(_results(args), args.component, records, seeds))
    print(_tally_line(tally, records))
    print(_report_hint(args, "", "ablations"))
    return 1 if any(r.get("status") != "ok" for r in records) else 0


def cmd_probe(args) -> int:
    from bench.probes import probe_specs

    suite, specs = _suite_specs(args)
    rows = probe_specs(specs, _results(args), suite.split, names=args.probes, force=args.force, threads=args.threads, progress=not args.quiet)
    for row in rows:
        shown = " ".join(f"{k}={v:.4f}" for k, v in row.items() if isinstance(v, float))
        print(f"{row['run']}: {row['status']}" + (f" (ndcg@10 {shown})" if shown else ""))
    return 0


def cmd_report(args) -> int:
    from bench.ablations import components
    from bench.report import build_reports
    from bench.runner import is_current, is_run_of

    # the runner, not the report, decides which records are current: only it builds methods
    pruned: list[Path] = []
    written = build_reports(
        _results(args), Path(args.out), suite=args.suite, metrics=args.metrics, ks=args.ks, is_current=is_current, runs_as=is_run_of, components=sorted(components()), pruned=pruned
    )
    if args.learning_curve:
        from bench.report.learning_curve import learning_curve
        from bench.results import iter_records

        current = [r for _, r in iter_records(_results(args)) if is_current(r)]
        for spec in args.learning_curve:
            written += learning_curve(Path(spec), current)
    print(written_summary(written, Path(args.out)))
    if pruned:
        print(f"Removed {len(pruned)} file{'s' if len(pruned) != 1 else ''} an earlier `bench report` wrote and this one does not:")
        print("\n".join(f"  {p}" for p in pruned))
    return 0


def written_summary(paths, out: Path) -> str:
    """What `bench report` wrote, per folder (its README first), instead of every path."""
    folders: dict[Path, list[Path]] = {}
    for path in paths:
        folders.setdefault(Path(path).parent, []).append(Path(path))
    lines = [f"Wrote {len(paths)} files under {out}/:"]
    for folder, files in folders.items():
        # a table's `_published.csv` is the paper's block beside it, not a table of its own
        tables = sum(p.suffix == ".csv" and not p.stem.endswith("_published") for p in files)
        latex = any(p.suffix == ".tex" for p in files)
        figures = len({p.stem for p in files if p.suffix in (".png", ".pdf")})
        readme = folder / "README.md"
        what = [f"{tables} table{'s' if tables != 1 else ''} ({'CSV, LaTeX' if latex else 'CSV'})"] if tables else []
        what += [f"{figures} figure{'s' if figures != 1 else ''} (PNG, PDF)"] if figures else []
        lines.append(f"  {readme if readme in files else folder}: {', '.join(what) or f'{len(files)} files'}")
    return "\n".join(lines)


def cmd_data_stats(args) -> int:
    from bench.data.datasets import load_dataset
    from bench.data.stats import short_sci, stats_rows, write_stats

    datasets = [load_dataset(name, results=_results(args)) for name in args.names]
    rows = stats_rows(datasets)
    w = max([12] + [len(r["dataset"]) for r in rows])
    print(f"{'dataset':{w}s} {'users':>8s} {'items':>8s} {'inters':>10s} {'avg_len':>8s} {'density':>9s}")
    for r in rows:
        print(f"{r['dataset']:{w}s} {r['users']:8d} {r['items']:8d} {r['interactions']:10d} {r['avg_len']:8.2f} {short_sci(r['density']):>9s}")
    for d in datasets:
        if d.duplicates_dropped:
            print(f"({d.name}: {d.duplicates_dropped} exact duplicate (user, item, timestamp) rows dropped, first kept)")
    for path in write_stats(rows, Path(args.out)):
        print(path)
    return 0


def cmd_import_amazon(args) -> int:
    from bench.data.amazon import import_amazon

    result = import_amazon(Path(args.reviews), Path(args.meta), args.name, _results(args), k_core=args.k_core, force=args.force)
    print(result.summary("amazon"))
    return 0


def cmd_import_movielens(args) -> int:
    from bench.data.movielens import import_movielens

    result = import_movielens(Path(args.path), args.name, _results(args), k_core=args.k_core, force=args.force)
    print(result.summary("movielens"))
    return 0


def cmd_data_export(args) -> int:
    from bench.data.datasets import load_dataset
    from bench.data.export import export_atomic

    for path in export_atomic(load_dataset(args.name, results=_results(args)), Path(args.out), split=args.split, split_format=args.split_format):
        print(path)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is a UserError (one line, exit 2) instead of usage text,
    and no abbreviated flags: a mistyped `--seed 1` is rejected, not taken as `--seeds 1`."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        from bench.errors import UserError

        raise UserError(f"{message} (see: {self.prog} --help)")


def cmd_perf(args) -> int:
    from bench.errors import UserError
    from bench.perf import DEFAULT_METHODS, refresh_accuracy, run_perf

    if args.accuracy_only:
        if args.methods:
            raise UserError("--accuracy-only keeps the earlier sitting's methods: drop --methods")
        refresh_accuracy(Path(args.out), results=str(_results(args)))
        return 0
    rows = run_perf(args.methods or DEFAULT_METHODS, steps=args.steps, batch=args.batch, results=str(_results(args)), out=Path(args.out), llm=args.llm, profile=args.profile, breakdown=args.breakdown)
    return 1 if any("error" in row for row in rows) else 0


def count(minimum: int):
    """argparse type of every count option: an integer >= minimum, refused while parsing, before
    any work (`perf --steps 0` once measured nothing and overwrote the committed table with zeros)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.minimum = minimum  # type: ignore[attr-defined]  # tests find every count option by it
    return parse


def _add_set(parser) -> None:
    parser.add_argument("--set", action="append", metavar="METHOD.KEY=VALUE",
                        help="override one setting of a method's config (VALUE as YAML; repeatable), e.g. --set laser.lr=5e-4; checked like suite keys")


def _add_joblib_backend(parser) -> None:
    parser.add_argument("--joblib-backend", default="loky", help="where --jobs runs go: loky (local processes), dask, ray (see bench/parallel.py)")


def _add_threads(parser) -> None:
    parser.add_argument(
        "--threads", type=count(1), help="fixed torch threads per run; sharing runs beside it leave it those cores (default: shared, starting at cores // jobs)",
    )


def _add_results(parser) -> None:
    # SUPPRESS: a subcommand that was not given --results must not overwrite the global one
    parser.add_argument("--results", default=argparse.SUPPRESS, help="results folder (run records, splits, caches); the same as the global --results (default: results)")


def _add_per_seed(parser) -> None:
    parser.add_argument("--per-seed", action="store_true", help="also print one row per run of this command (test metrics, epochs, time) before the summary table")


def _components() -> list[str]:
    from bench.ablations import components

    return sorted(components())


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bench", description="Benchmark and ablation harness for LLM-based sequential recommendation.")
    p.add_argument("--results", default="results", help="results folder (run records, splits, caches)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ls", help="list datasets, methods, suites, ablation components")
    _add_results(s)
    s.set_defaults(func=cmd_ls)

    s = sub.add_parser("run", help="run a suite (finished runs are skipped)")
    s.add_argument("--suite", default="main", help="suite name (see `bench ls`) or a suite YAML file (default: main)")
    s.add_argument("--methods", nargs="+", help="only these methods of the suite")
    s.add_argument("--seeds", nargs="+", type=count(0), help="seeds to run (default: the suite's)")
    s.add_argument("--jobs", type=count(1), default=1, help="parallel runs (joblib); each starts with cores // jobs threads and takes idle cores as other runs finish")
    s.add_argument("--force", action="store_true", help="rerun finished runs")
    _add_threads(s)
    _add_joblib_backend(s)
    s.add_argument("--llm", help=f"{LLM_HELP}, for the LLM methods")
    s.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    _add_per_seed(s)
    _add_set(s)
    _add_results(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("ablate", help="run Laser and the variants of one component")
    s.add_argument("--component", required=True, help=f"the component whose variants run: {', '.join(_components())}")
    s.add_argument("--dataset", default="ml-100k", help="dataset name or atomic directory (default: ml-100k)")
    s.add_argument("--profile", help="Laser profile of the base config, e.g. cpu | paper (default: the main suite's Laser config as it stands)")
    s.add_argument("--seeds", nargs="+", type=count(0), help="seeds (default: 0)")
    s.add_argument("--variants", nargs="+", help="only these variants of the component, e.g. full K8_L4 (default: all; a name it lacks is refused with the list)")
    s.add_argument("--jobs", type=count(1), default=1, help="parallel runs (joblib)")
    _add_threads(s)
    _add_joblib_backend(s)
    s.add_argument("--force", action="store_true", help="rerun finished runs")
    s.add_argument("--llm", help=LLM_HELP)
    s.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    _add_per_seed(s)
    _add_set(s)
    _add_results(s)
    s.set_defaults(func=cmd_ablate)

    s = sub.add_parser("probe", help="attribution probes on finished runs whose weights are kept (never retrains)")
    s.add_argument("--suite", default="main", help="suite name or YAML file (default: main)")
    s.add_argument("--methods", nargs="+", help="only these methods of the suite")
    s.add_argument("--seeds", nargs="+", type=count(0), help="seeds (default: the suite's)")
    s.add_argument("--probes", nargs="+", help="only these probes (default: every probe the method has)")
    s.add_argument("--force", action="store_true", help="redo probes the record already has")
    s.add_argument("--threads", type=count(1), help="torch threads (default: all cores)")
    s.add_argument("--llm", help=f"{LLM_HELP}: the one the runs were trained with")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_set(s)
    _add_results(s)
    s.set_defaults(func=cmd_probe)

    s = sub.add_parser("report", help="tables and figures from stored run records (never retrains)")
    s.add_argument("--suite", default=None, help="only this suite (default: every suite with records, plus the ablations)")
    s.add_argument("--out", default="reports", help="folder for the tables and figures (default: reports)")
    s.add_argument("--metrics", nargs="+", help="metric columns, e.g. recall@20 ndcg@20 mrr (default: recall@10 ndcg@10 mrr)")
    s.add_argument("--ks", nargs="+", type=count(1), help="cut-offs K: Recall@K and NDCG@K per K, plus MRR")
    s.add_argument("--learning-curve", nargs="+", metavar="SPEC", help="also draw these learning-curve specs (JSON naming run records; the figure goes beside it), e.g. reports/experiments/learning_curve.json")
    _add_results(s)
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("perf", help="training/encoding throughput and memory of Laser vs LLM baselines, in one sitting")
    s.add_argument("--methods", nargs="+", default=None, help="default: laser, laser:suffix_only, lora, full_ft; METHOD:VARIANT is an ablation variant")
    s.add_argument("--steps", type=count(1), default=4, help="measured training steps per method, after one warm-up step (default: 4)")
    s.add_argument("--batch", type=count(1), default=8, help="training batch size (default: 8)")
    s.add_argument("--out", default="reports/perf.csv", help="CSV to write, with a JSON of the same stem (default: reports/perf.csv)")
    s.add_argument("--llm", help=LLM_HELP)
    s.add_argument("--profile", help="Laser/baseline profile to measure, e.g. cpu | paper (default: the one the methods resolve to without one)")
    s.add_argument("--breakdown", action="store_true", help="also profile as many steps again and add where a step's time goes (pct_* columns: LLM forward, backward, M-Former, ID encoder, optimizer, prompts, candidates, other)")
    s.add_argument("--accuracy-only", action="store_true", help="measure nothing: re-read the accuracy-per-CPU-minute columns of the sitting in --out from the current run records")
    _add_results(s)
    s.set_defaults(func=cmd_perf)

    s = sub.add_parser("data", help="dataset tools")
    dsub = s.add_subparsers(dest="data_command", required=True)
    st = dsub.add_parser("stats", help="users, items, interactions, average length, density (the paper's Table 1)")
    st.add_argument("names", nargs="+", metavar="name", help="dataset names or atomic directories")
    st.add_argument("--out", default=str(Path("reports") / "datasets"), help="folder for dataset_stats.csv and .tex")
    _add_results(st)
    st.set_defaults(func=cmd_data_stats)

    im = dsub.add_parser("import", help="import a public dump as an atomic dataset under <results>/datasets/NAME")
    isub = im.add_subparsers(dest="source", required=True)
    a = isub.add_parser("amazon", help="Amazon 2018 reviews + metadata (JSON lines, plain or .gz)")
    a.add_argument("--reviews", required=True, help="reviews file (reviewerID, asin, unixReviewTime)")
    a.add_argument("--meta", required=True, help="metadata file (asin, title, brand, category)")
    a.add_argument("--name", required=True, help="dataset name under <results>/datasets/")
    a.add_argument("--k-core", type=count(0), default=5, help="iterated k-core after dropping untitled items (0: none)")
    a.add_argument("--force", action="store_true", help="replace an imported dataset of the same name")
    _add_results(a)
    a.set_defaults(func=cmd_import_amazon)
    m = isub.add_parser("movielens", help="ml-1m / ml-10m (.dat) or ml-20m / ml-25m (.csv) folder")
    m.add_argument("--path", required=True, help="folder with ratings.dat + movies.dat or ratings.csv + movies.csv")
    m.add_argument("--name", required=True, help="dataset name under <results>/datasets/")
    m.add_argument("--k-core", type=count(0), default=0, help="iterated k-core (default 0: none)")
    m.add_argument("--force", action="store_true", help="replace an imported dataset of the same name")
    _add_results(m)
    m.set_defaults(func=cmd_import_movielens)

    ex = dsub.add_parser("export", help="write a dataset's RecBole atomic files (and its split) to a folder")
    ex.add_argument("name", help="dataset name or atomic directory")
    ex.add_argument("--out", required=True, help="folder for NAME.inter, NAME.item (RecBole reads <data_path>/NAME/NAME.inter: use --out <data_path>/NAME)")
    ex.add_argument("--split", action="store_true", help="also NAME.{train,valid,test}.inter (leave-one-out) for benchmark_filename")
    ex.add_argument("--split-format", choices=["plain", "sequential"], default="plain",
                    help="plain: user_id, item_id, timestamp (= position), for RecBole's general models; "
                    "sequential: user_id, item_id_list, item_id, which its sequential models need")
    _add_results(ex)
    ex.set_defaults(func=cmd_data_export)
    return p


def main(argv: list[str] | None = None) -> int:
    from bench.errors import UserError

    try:
        args = build_parser().parse_args(argv)
        _check_results(args)
        return args.func(args)
    except UserError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; finished runs are saved, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
