"""`bench`: the command line. Subcommands are small functions; heavy imports happen inside them.

User errors print one line to stderr and exit 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _results(args) -> Path:
    return Path(args.results)


def cmd_ls(args) -> int:
    from bench.datasets import DATASETS
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
    try:
        from laser.ablations import COMPONENTS

        print("ablation components:")
        for name in COMPONENTS:
            print(f"  {name}")
    except ImportError:
        pass
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


def cmd_run(args) -> int:
    from bench.runner import run_specs
    from bench.suites import expand, load_suite

    suite = load_suite(args.suite)
    specs = expand(suite, args.methods, args.seeds)
    if args.llm:
        specs = [_with_llm(s, args.llm) for s in specs]
    records = run_specs(specs, _results(args), suite.split, jobs=args.jobs, force=args.force, progress=not args.quiet, threads=args.threads)
    _print_table(records)
    return 1 if any(r.get("status") != "ok" for r in records) else 0


def _with_llm(spec, llm: str):
    import dataclasses

    from bench.methods import METHODS

    cls = METHODS.get(spec.method)
    if getattr(cls, "family", "") == "ID-based":
        return spec
    return dataclasses.replace(spec, config={**spec.config, "llm": llm})


def cmd_ablate(args) -> int:
    from laser.ablations import ablation_specs
    from bench.runner import run_specs

    specs = ablation_specs(args.component, dataset=args.dataset, seeds=args.seeds or [0], profile=args.profile, llm=args.llm)
    records = run_specs(specs, _results(args), jobs=args.jobs, force=args.force, progress=not args.quiet)
    _print_table(records)
    return 1 if any(r.get("status") != "ok" for r in records) else 0


def cmd_report(args) -> int:
    from bench.reports import build_reports

    for path in build_reports(_results(args), Path(args.out), suite=args.suite, metrics=args.metrics, ks=args.ks):
        print(path)
    return 0


def cmd_data_stats(args) -> int:
    from bench.datasets import load_dataset

    d = load_dataset(args.name)
    s = d.stats()
    print(f"{'dataset':12s} {'users':>8s} {'items':>8s} {'inters':>10s} {'avg_len':>8s} {'density':>9s}")
    print(f"{d.name:12s} {s['users']:8d} {s['items']:8d} {s['interactions']:10d} {s['avg_len']:8.2f} {s['density']:9.2e}")
    if d.duplicates_dropped:
        print(f"({d.duplicates_dropped} exact duplicate (user, item, timestamp) rows dropped, first kept)")
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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bench", description="Benchmark and ablation harness for LLM-based sequential recommendation.")
    p.add_argument("--results", default="results", help="results folder (run records, splits, caches)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ls", help="list datasets, methods, suites, ablation components")
    s.set_defaults(func=cmd_ls)

    s = sub.add_parser("run", help="run a suite (finished runs are skipped)")
    s.add_argument("--suite", default="main")
    s.add_argument("--methods", nargs="+", help="only these methods of the suite")
    s.add_argument("--seeds", nargs="+", type=int)
    s.add_argument("--jobs", type=int, default=1, help="parallel runs (joblib); threads per run = cores // jobs")
    s.add_argument("--force", action="store_true", help="rerun finished runs")
    s.add_argument("--threads", type=int, help="torch threads per run (default: cores // jobs)")
    s.add_argument("--llm", help="local Hugging Face causal LM folder for the LLM methods")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("ablate", help="run Laser and the variants of one component")
    s.add_argument("--component", required=True)
    s.add_argument("--dataset", default="ml-100k")
    s.add_argument("--profile", default="cpu")
    s.add_argument("--seeds", nargs="+", type=int)
    s.add_argument("--jobs", type=int, default=1)
    s.add_argument("--force", action="store_true")
    s.add_argument("--llm")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_ablate)

    s = sub.add_parser("report", help="tables and figures from stored run records (never retrains)")
    s.add_argument("--suite", default=None)
    s.add_argument("--out", default="reports")
    s.add_argument("--metrics", nargs="+", help="metric columns, e.g. recall@20 ndcg@20 mrr (default: recall@10 ndcg@10 mrr)")
    s.add_argument("--ks", nargs="+", type=int, help="cut-offs K: Recall@K and NDCG@K per K, plus MRR")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("data", help="dataset tools")
    dsub = s.add_subparsers(dest="data_command", required=True)
    st = dsub.add_parser("stats", help="users, items, interactions, average length, density")
    st.add_argument("name")
    st.set_defaults(func=cmd_data_stats)
    return p


def main(argv: list[str] | None = None) -> int:
    from bench.errors import UserError

    try:
        args = build_parser().parse_args(argv)
        for flag in ("jobs", "threads"):
            value = getattr(args, flag, None)
            if value is not None and value < 1:
                raise UserError(f"--{flag} must be >= 1, got {value}")
        for seed in getattr(args, "seeds", None) or ():
            if seed < 0:
                raise UserError(f"--seeds: seed {seed} must be a non-negative integer")
        return args.func(args)
    except UserError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; finished runs are saved, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
