"""Pure functions: run records in, pandas DataFrames out, for the paper's tables and figures.

Nothing here writes files or draws (the one read is the packaged table of published numbers);
`bench.reports` renders these frames and `bench.report_figures` plots them. numpy, pandas and
scipy are imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.errors import UserError

FAMILIES = ("ID-based", "LLM-based (tuned LLM)", "Laser")
LASER_FAMILY = "Laser"
# MostPop's family: the floor, so always the last group of a table (after families we do not know)
FLOOR_FAMILY = "Non-personalised"
NO_LLM_FAMILIES = ("ID-based", FLOOR_FAMILY)
OTHER_FAMILY = "Other"  # records that failed before their method said which family it is
DEFAULT_METRICS = ("recall@10", "ndcg@10", "mrr")
DEFAULT_BACKBONE = "SmolLM2-135M-Instruct"
ALPHA = 0.05
PAPER_RESULTS = Path(__file__).parent / "reference" / "paper_results.csv"
PAPER_SOURCE = "Zhang et al. 2024, arXiv 2409.01605"
PAPER_DATASETS = "Amazon 2018"
# the paper's table for each ablation component's variant table (None: no published numbers);
# components not listed compare with Table 4. The experts' Table 7 is a K x L grid of its own.
PAPER_TABLE_OF_COMPONENT: dict[str, int | None] = {"suffix": 5, "template": 6, "experts": None, "id_encoder": None}
PAPER_GRID_TABLE = 7
TUNING_BY_FAMILY = {
    "ID-based": "full training",
    "LLM-based (tuned LLM)": "tuned LLM",
    "Laser": "prefix + suffix tokens, LLM frozen",
    FLOOR_FAMILY: "none (training counts)",
}

RUN_COLUMNS = ("key", "name", "method", "family", "uses_ids", "dataset", "seed", "status", "error", "split_hash", "variant", "component")

PARAMETER_COLUMNS = ("family", "name", "dataset", "status", "backbone", "tuning", "llm_side_trainable", "trainable", "trainable_percent", "total")

_METRIC = re.compile(r"^(recall|ndcg)@([1-9][0-9]*)$")
_GRID_NAME = re.compile(r"k(\d+)\D*l(\d+)", re.IGNORECASE)
_K_KEYS = ("n_experts", "num_experts", "experts", "k")
_L_KEYS = ("queries", "n_query_tokens", "num_query_tokens", "query_tokens", "n_queries", "l")


# ---------------------------------------------------------------- metrics and record facts


def resolve_metrics(metrics: Sequence[str] | None = None, ks: Sequence[int] | None = None) -> list[str]:
    """The metric columns: explicit names, else Recall@K and NDCG@K per K plus MRR, else the paper's."""
    if metrics:
        chosen = [m.strip().lower() for m in metrics]
    elif ks:
        chosen = [f"{name}@{k}" for k in ks for name in ("recall", "ndcg")] + ["mrr"]
    else:
        chosen = list(DEFAULT_METRICS)
    for metric in chosen:
        if metric != "mrr" and not _METRIC.match(metric):
            raise UserError(f"unknown metric {metric!r} (use recall@K, ndcg@K with K >= 1, or mrr)")
    return list(dict.fromkeys(chosen))


def metric_label(metric: str) -> str:
    if metric == "mrr":
        return "MRR"
    name, _, k = metric.partition("@")
    return f"{'Recall' if name == 'recall' else 'NDCG'}@{k}"


def run_label(record: dict[str, Any]) -> str:
    return f"{record.get('name')} on {record.get('dataset')}, seed {record.get('seed')} (run {record.get('key')})"


def is_ok(record: dict[str, Any]) -> bool:
    return record.get("status") == "ok"


def metric_value(record: dict[str, Any], metric: str, stage: str = "test") -> float:
    """A stored metric, or one computed from the stored per-user ranks (any K)."""
    from bench.metrics import per_user_metric

    stored = (record.get("metrics") or {}).get(stage) or {}
    if metric in stored:
        return float(stored[metric])
    ranks = (record.get("ranks") or {}).get(stage)
    if not ranks:
        raise UserError(f"{run_label(record)}: no {stage} ranks to compute {metric} from")
    return float(per_user_metric(ranks, metric).mean())


def tags(record: dict[str, Any]) -> dict[str, Any]:
    return record.get("tags") or {}


def backbone(record: dict[str, Any], family: str) -> str:
    config = record.get("config") or {}
    llm = config.get("llm") or config.get("backbone") or (record.get("training") or {}).get("backbone")
    if llm:
        return Path(str(llm).rstrip("/")).name or str(llm)
    return "-" if family in NO_LLM_FAMILIES else DEFAULT_BACKBONE


def tuning(record: dict[str, Any], family: str) -> str:
    told = (record.get("training") or {}).get("tuning") or {}  # the LLM baselines say what they tuned
    label = told.get("label") if isinstance(told, dict) else None
    return str((record.get("config") or {}).get("tuning") or label or TUNING_BY_FAMILY.get(family, "-"))


def family_order(families: Iterable[str]) -> list[str]:
    present = list(dict.fromkeys(families))
    middle = [f for f in present if f not in FAMILIES and f != FLOOR_FAMILY]
    return [f for f in FAMILIES if f in present] + middle + ([FLOOR_FAMILY] if FLOOR_FAMILY in present else [])


# ---------------------------------------------------------------- consistency checks


def check_consistent(records: Sequence[dict[str, Any]], row: str = "name") -> None:
    """One split per dataset, and at most one run per (row, dataset, seed); else a UserError naming the runs."""
    _check_one_split_per_dataset(records)
    seen: dict[tuple, dict[str, Any]] = {}
    for record in records:
        ident = (_row_value(record, row), record.get("dataset"), record.get("seed"))
        if ident in seen:
            other = seen[ident]
            raise UserError(
                f"several runs for {ident[0]} on {ident[1]}, seed {ident[2]}: run {other.get('key')} and run "
                f"{record.get('key')} (config differs in: {_config_diff(other.get('config'), record.get('config'))}); "
                "remove the one that should not be reported"
            )
        seen[ident] = record


def _check_one_split_per_dataset(records: Sequence[dict[str, Any]]) -> None:
    by_dataset: dict[str, dict[str, list[str]]] = {}
    for record in records:
        by_dataset.setdefault(record.get("dataset"), {}).setdefault(str(record.get("split_hash")), []).append(
            f"{record.get('name')} seed {record.get('seed')} (run {record.get('key')})"
        )
    for dataset, hashes in by_dataset.items():
        if len(hashes) > 1:
            listed = "; ".join(f"split {h}: {', '.join(runs)}" for h, runs in sorted(hashes.items()))
            raise UserError(
                f"{dataset}: one table would mix runs on different splits ({listed}); "
                "remove the stale records or rerun them on one split"
            )


def _config_diff(a: dict | None, b: dict | None) -> str:
    a, b = a or {}, b or {}
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return ", ".join(f"{k}={a.get(k)!r} vs {b.get(k)!r}" for k in keys) or "nothing (same config)"


def _row_value(record: dict[str, Any], row: str) -> Any:
    return tags(record).get("variant") if row == "variant" else record.get(row)


def split_hashes(records: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {r["dataset"]: str(r.get("split_hash")) for r in sorted(records, key=lambda r: r["dataset"])}


# ---------------------------------------------------------------- run and summary frames


def runs_frame(records: Sequence[dict[str, Any]], metrics: Sequence[str], stage: str = "test"):
    """One row per record: identity, family, status and the chosen metrics (NaN for failed runs)."""
    import pandas as pd

    families = {r["method"]: r["family"] for r in records if r.get("family")}
    uses_ids = {r["method"]: r["uses_collaborative_ids"] for r in records if r.get("uses_collaborative_ids") is not None}
    rows = []
    for r in records:
        family = r.get("family") or families.get(r.get("method"), OTHER_FAMILY)
        row = {
            "key": r.get("key"),
            "name": r.get("name"),
            "method": r.get("method"),
            "family": family,
            "uses_ids": uses_ids.get(r.get("method")),
            "dataset": r.get("dataset"),
            "seed": r.get("seed"),
            "status": r.get("status"),
            "error": r.get("error"),
            "split_hash": r.get("split_hash"),
            "variant": tags(r).get("variant"),
            "component": tags(r).get("component"),
        }
        for metric in metrics:
            row[metric] = metric_value(r, metric, stage) if is_ok(r) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, *metrics])


def summarize(runs, metrics: Sequence[str], rows: Sequence[str] = ("family", "name")):
    """Per (row, dataset, metric): mean and sample std over the ok seeds, n_ok and n_runs.

    Row order is the order of first appearance in `runs`; failed seeds count in n_runs only."""
    long = runs.melt(id_vars=[*rows, "dataset", "seed", "status"], value_vars=list(metrics), var_name="metric", ignore_index=False)
    long = long.sort_index(kind="stable")  # run by run, so rows (and the CSV) follow the runs' order
    grouped = long.groupby([*rows, "dataset", "metric"], sort=False, dropna=False)
    return grouped.agg(
        mean=("value", "mean"), std=("value", "std"), n_ok=("value", "count"), n_runs=("status", "size")
    ).reset_index()


def add_places(summary):
    """`place`: 1 for the best mean of each (dataset, metric), 2 for the runner-up, 0 otherwise; ties share."""
    out = summary.copy()

    def place(values):
        distinct = sorted(set(values.dropna()), reverse=True)[:2]
        return values.map(lambda v: distinct.index(v) + 1 if v in distinct else 0)

    out["place"] = out.groupby(["dataset", "metric"], sort=False)["mean"].transform(place).astype(int)
    return out


def by_family(frame):
    """`frame` with its rows grouped by family in the paper's order, keeping the order within a family."""
    order = family_order(frame["family"])
    return frame.sort_values("family", key=lambda s: s.map(order.index), kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- Laser vs the best baseline


def rank_index(records: Iterable[dict[str, Any]], stage: str = "test") -> dict[tuple, dict[int, list]]:
    """(name, dataset) -> {seed: per-user ranks} for ok records."""
    index: dict[tuple, dict[int, list]] = {}
    for r in records:
        if is_ok(r) and (r.get("ranks") or {}).get(stage):
            index.setdefault((r["name"], r["dataset"]), {})[r["seed"]] = r["ranks"][stage]
    return index


def paired_wilcoxon(a: dict[int, list], b: dict[int, list], metric: str) -> tuple[float, int, int]:
    """Two-sided Wilcoxon signed-rank test of per-user `metric`, a vs b, paired by user and seed.

    Per-user differences are taken within each seed the two share and averaged over those seeds.
    Returns (p, users, shared seeds); p is 1.0 when every difference is zero, NaN without a shared seed."""
    import numpy as np
    from scipy.stats import wilcoxon

    from bench.metrics import per_user_metric

    seeds = sorted(set(a) & set(b))
    if not seeds:
        return float("nan"), 0, 0
    diffs = []
    for seed in seeds:
        x, y = per_user_metric(a[seed], metric), per_user_metric(b[seed], metric)
        if x.shape != y.shape:
            raise UserError(f"seed {seed}: {len(x)} vs {len(y)} evaluated users; paired tests need the same split")
        diffs.append(x - y)
    d = np.mean(diffs, axis=0)
    if not np.any(d):
        return 1.0, len(d), len(seeds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero differences make scipy switch to the normal approximation
        return float(wilcoxon(d).pvalue), len(d), len(seeds)


def improvements(summary, records: Sequence[dict[str, Any]], stage: str = "test"):
    """Per (dataset, metric): the best Laser row vs the best non-Laser row, relative gain and p-value."""
    import pandas as pd

    ranks = rank_index(records, stage)
    rows = []
    for (dataset, metric), column in summary.dropna(subset=["mean"]).groupby(["dataset", "metric"], sort=False):
        laser = column[column["family"] == LASER_FAMILY]
        base = column[column["family"] != LASER_FAMILY]
        if laser.empty or base.empty:
            continue
        best_laser = laser.loc[laser["mean"].idxmax()]
        best_base = base.loc[base["mean"].idxmax()]
        gain = (best_laser["mean"] - best_base["mean"]) / best_base["mean"] * 100 if best_base["mean"] > 0 else float("nan")
        p, users, seeds = paired_wilcoxon(
            ranks.get((best_laser["name"], dataset), {}), ranks.get((best_base["name"], dataset), {}), metric
        )
        rows.append(
            {
                "dataset": dataset,
                "metric": metric,
                "laser": best_laser["name"],
                "baseline": best_base["name"],
                "laser_mean": best_laser["mean"],
                "baseline_mean": best_base["mean"],
                "improv_percent": gain,
                "p_value": p,
                "users": users,
                "seeds": seeds,
                "significant": bool(p < ALPHA and gain > 0),
            }
        )
    columns = ["dataset", "metric", "laser", "baseline", "laser_mean", "baseline_mean", "improv_percent", "p_value", "users", "seeds", "significant"]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------- parameters (Table 3)


def representative_runs(records: Sequence[dict[str, Any]]):
    """(family, name, dataset, "ok" | "failed", record) per table row: the row's first ok seed,
    else its first run."""
    runs = runs_frame(records, [])
    by_key = {r["key"]: r for r in records}
    for (family, name, dataset), group in runs.groupby(["family", "name", "dataset"], sort=False):
        ok = group[group["status"] == "ok"].sort_values("seed")
        yield family, name, dataset, "ok" if not ok.empty else "failed", by_key[(ok if not ok.empty else group).iloc[0]["key"]]


def parameter_frame(records: Sequence[dict[str, Any]]):
    """One row per (method row, dataset): backbone, tuning and parameter counts of its first ok seed."""
    import pandas as pd

    rows = []
    for family, name, dataset, status, record in representative_runs(records):
        params = record.get("parameters") or {}
        rows.append(
            {
                "family": family,
                "name": name,
                "dataset": dataset,
                "status": status,
                "backbone": backbone(record, family),
                "tuning": tuning(record, family),
                "llm_side_trainable": params.get("llm_side_trainable"),
                "trainable": params.get("trainable"),
                "trainable_percent": params.get("trainable_percent"),
                "total": params.get("total"),
            }
        )
    return by_family(pd.DataFrame(rows, columns=list(PARAMETER_COLUMNS)))


# ---------------------------------------------------------------- resolved configs

HYPERPARAMETER_COLUMNS = ("family", "name", "dataset", "setting", "value")
VERSION_SETTING = "(method version)"
# Laser and the tuned-LLM baselines share one config (Laser's, less its collaborative keys):
# one table shows where they differ
_LLM_GROUP = "LLM-based (tuned LLM) and Laser"
CONFIG_GROUP_OF_FAMILY = {"LLM-based (tuned LLM)": _LLM_GROUP, LASER_FAMILY: _LLM_GROUP}


def flat_settings(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys: {"model": {"hidden_size": 64}} -> {"model.hidden_size": 64}."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(flat_settings(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def setting_text(value: Any) -> str:
    import json

    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def hyperparameter_frame(records: Sequence[dict[str, Any]]):
    """One row per (method row, dataset, setting): the flattened resolved config of the row's
    first ok seed as text, then its method version. Records written before runs stored their
    resolved config have no rows."""
    import pandas as pd

    rows = []
    for family, name, dataset, _, record in representative_runs(records):
        resolved = record.get("resolved_config")
        if resolved is None:
            continue
        settings = {**flat_settings(resolved), VERSION_SETTING: record.get("method_version")}
        rows += [{"family": family, "name": name, "dataset": dataset, "setting": k, "value": setting_text(v)} for k, v in settings.items()]
    return by_family(pd.DataFrame(rows, columns=list(HYPERPARAMETER_COLUMNS)))


COST_COLUMNS = (
    "family", "name", "dataset", "status", "uses_ids", "recall@10", "ndcg@10", "mrr", "trainable",
    "examples_per_s", "tokens_per_s", "epoch_s", "fit_s", "total_s", "peak_rss_mb", "cuda_max_allocated_mb", "threads",
)


def cost_frame(records: Sequence[dict[str, Any]]):
    """One row per (method row, dataset), first ok seed: test Recall/NDCG@10 and MRR beside what
    the run cost (training examples/s and tokens/s averaged over its epochs, where the method
    reports them; wall times; peak memory)."""
    import pandas as pd

    rows = []
    for family, name, dataset, status, record in representative_runs(records):
        curve = (record.get("training") or {}).get("curve") or []
        mean = lambda key: round(sum(e[key] for e in curve) / len(curve), 2) if curve and all(key in e for e in curve) else None  # noqa: E731
        timings, memory = record.get("timings") or {}, record.get("memory") or {}
        metrics = ((record.get("metrics") or {}).get("test")) or {}
        rows.append(
            {
                "family": family, "name": name, "dataset": dataset, "status": status,
                "uses_ids": record.get("uses_collaborative_ids"),
                **{m: metrics.get(m) for m in ("recall@10", "ndcg@10", "mrr")},
                "trainable": (record.get("parameters") or {}).get("trainable"),
                "examples_per_s": mean("examples_per_s"), "tokens_per_s": mean("tokens_per_s"), "epoch_s": mean("epoch_s"),
                "fit_s": timings.get("fit_s"), "total_s": timings.get("total_s"),
                "peak_rss_mb": memory.get("peak_rss_mb"), "cuda_max_allocated_mb": memory.get("cuda_max_allocated_mb"),
                "threads": record.get("threads"),
            }
        )
    return by_family(pd.DataFrame(rows, columns=list(COST_COLUMNS)))


def params_vs_metric(records: Sequence[dict[str, Any]], metric: str = "ndcg@10"):
    """Trainable parameters beside mean/std of `metric` per (method row, dataset), ok runs only."""
    runs = runs_frame(records, [metric])
    summary = summarize(runs[runs["status"] == "ok"], [metric])
    params = parameter_frame([r for r in records if is_ok(r)])
    return summary.merge(params[["name", "dataset", "trainable"]], on=["name", "dataset"])


# ---------------------------------------------------------------- ablations (Tables 4-7)


def memberships(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ablation {component, variant} a run belongs to: its tags, then `also_tags` (a shared full run)."""
    return [t for t in [tags(record), *(record.get("also_tags") or [])] if t.get("component")]


def components(records: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({m["component"] for r in records for m in memberships(r)})


def ablation_records(records: Sequence[dict[str, Any]], component: str) -> tuple[list[dict[str, Any]], str | None]:
    """The component's runs, each with `tags` set to its membership of this component, and the
    component the full-model runs were borrowed from (None when it has its own).

    One full run serves every component (its key ignores tags); a record written before it
    listed them all in `also_tags` may carry another component's tag only, so a component
    without a full run takes the full runs of the others."""
    own = [{**r, "tags": m} for r in records for m in memberships(r) if m["component"] == component]
    if any(tags(r).get("variant") == "full" for r in own):
        return own, None
    datasets = {r["dataset"] for r in own}
    borrowed = {r["key"]: (r, m) for r in records for m in memberships(r) if m.get("variant") == "full" and r["dataset"] in datasets}
    source = ", ".join(sorted({m["component"] for _, m in borrowed.values()})) or None
    return own + [{**r, "tags": m} for r, m in borrowed.values()], source


def ablation_frame(records: Sequence[dict[str, Any]], metrics: Sequence[str], stage: str = "test"):
    """Summary per (variant, dataset, metric) with `drop_percent` = (full - variant) / full * 100."""
    runs = runs_frame(records, metrics, stage)
    runs["variant"] = runs["variant"].fillna(runs["name"])
    runs = runs.sort_values("variant", key=lambda s: s != "full", kind="stable").reset_index(drop=True)
    summary = summarize(runs, metrics, rows=("variant", "name"))
    full = summary[summary["variant"] == "full"].set_index(["dataset", "metric"])["mean"]
    summary["full_mean"] = [full.get((d, m), float("nan")) for d, m in zip(summary["dataset"], summary["metric"])]
    summary["drop_percent"] = (summary["full_mean"] - summary["mean"]) / summary["full_mean"] * 100
    return summary


def grid_coordinates(record: dict[str, Any]) -> tuple[int, int] | None:
    """(K experts, L query tokens) of an "experts" ablation run: from its config (its resolved
    config, as the runner stored it, filling what the config leaves out), else from a variant
    name like "K4_L32". Reports read records only: no method is built here."""
    config = record.get("config") or {}
    k, l = _find_int(config, _K_KEYS), _find_int(config, _L_KEYS)
    if (k is None or l is None) and record.get("method") == "laser":  # the profile's defaults, as the runner resolved them
        resolved = record.get("resolved_config") or {}
        k = resolved.get("experts") if k is None else k
        l = resolved.get("queries") if l is None else l
    if k is not None and l is not None:
        return k, l
    match = _GRID_NAME.search(str(tags(record).get("variant") or record.get("name")))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _find_int(config: dict[str, Any], names: Sequence[str]) -> int | None:
    for key, value in config.items():
        if key.lower() in names and isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, dict) and (found := _find_int(value, names)) is not None:
            return found
    return None


def expert_grid(records: Sequence[dict[str, Any]], metric: str, stage: str = "valid"):
    """Mean/std of `metric` per (dataset, K, L) over seeds; runs without a readable (K, L) are left out."""
    import pandas as pd

    rows = []
    for r in records:
        coords = grid_coordinates(r)
        if coords is not None:
            value = metric_value(r, metric, stage) if is_ok(r) else float("nan")
            rows.append({"dataset": r["dataset"], "K": coords[0], "L": coords[1], "status": r.get("status"), "value": value})
    if not rows:
        return pd.DataFrame(columns=["dataset", "K", "L", "mean", "std", "n_ok", "n_runs"])
    grouped = pd.DataFrame(rows).groupby(["dataset", "K", "L"])
    return grouped.agg(mean=("value", "mean"), std=("value", "std"), n_ok=("value", "count"), n_runs=("status", "size")).reset_index()


# ---------------------------------------------------------------- figure data


def expert_usage_frame(records: Iterable[dict[str, Any]]):
    """Mean fraction of users routed to each M-Former expert, per (method row, dataset, user group)."""
    import pandas as pd

    rows = []
    for r in records:
        usage = ((r.get("analysis") or {}).get("expert_usage") or {}) if is_ok(r) else {}
        for group, fractions in usage.items():
            for expert, fraction in enumerate(fractions, 1):
                rows.append({"name": r["name"], "dataset": r["dataset"], "seed": r["seed"], "group": group, "expert": expert, "fraction": float(fraction)})
    columns = ["name", "dataset", "group", "expert", "fraction"]
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(rows).groupby(columns[:4], sort=False)["fraction"].mean().reset_index()


def curves_frame(records: Iterable[dict[str, Any]], key: str = "valid_ndcg@10"):
    """Validation curve points per (method row, dataset, seed, epoch)."""
    import pandas as pd

    rows = [
        {"name": r["name"], "dataset": r["dataset"], "seed": r["seed"], "epoch": point["epoch"], "value": float(point[key])}
        for r in records
        if is_ok(r)
        for point in ((r.get("training") or {}).get("curve") or [])
        if point.get(key) is not None
    ]
    return pd.DataFrame(rows, columns=["name", "dataset", "seed", "epoch", "value"])


def diagnostics_frame(records: Iterable[dict[str, Any]]):
    """Per-epoch training diagnostics of the LLM runs: loss (and a uniform guess's loss over the
    same candidates), the item matrix's mean cosine and effective rank, by examples seen."""
    import pandas as pd

    columns = ["name", "dataset", "seed", "phase", "examples_seen", "loss", "loss_uniform", "mean_cosine", "effective_rank", "mostpop_ce"]
    rows = []
    for r in records:
        training = r.get("training") or {}
        if not is_ok(r) or "loss_reference" not in training:
            continue
        for point in training.get("curve") or []:
            rows.append({
                "name": r["name"], "dataset": r["dataset"], "seed": r["seed"], "phase": point.get("phase"), "examples_seen": point.get("examples_seen"),
                **{k: point.get(k) for k in columns[5:9]}, "mostpop_ce": training["loss_reference"].get("mostpop_ce"),
            })
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------- published numbers


def load_paper_results(path: Path = PAPER_RESULTS):
    import pandas as pd

    return pd.read_csv(path, dtype={"dataset": "string", "key": "string", "note": "string"})


def published_frame(paper, table: int, metrics: Sequence[str]):
    """The paper's rows of one table in the summary layout: model, key, dataset, metric, mean."""
    rows = paper[(paper["table"] == table) & paper["dataset"].notna()]
    present = [m for m in metrics if m in rows.columns]
    long = rows.melt(id_vars=["model", "key", "dataset", "split", "note"], value_vars=present, var_name="metric", value_name="mean")
    return long.reset_index(drop=True)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower().replace("w/o", "no"))


def paper_dataset(ours: str, paper_datasets: Iterable[str]) -> str | None:
    """The paper dataset our dataset is (e.g. "amazon-scientific" -> "scientific"), or None."""
    tokens = set(re.split(r"[^a-z0-9]+", ours.lower())) | {_norm(ours)}
    return next((p for p in paper_datasets if _norm(p) in tokens), None)


def attach_published(summary, published, key: str):
    """Adds `published`: the paper's value for the row whose `key` names the same model and dataset."""
    lookup = {}
    for row in published.itertuples(index=False):
        for name in (row.key, row.model):
            if isinstance(name, str):
                lookup.setdefault((_norm(name), row.dataset, row.metric), row.mean)
    datasets = sorted(set(published["dataset"].dropna()))
    out = summary.copy()
    out["published"] = [
        lookup.get((_norm(k), paper_dataset(str(d), datasets), m), float("nan"))
        for k, d, m in zip(out[key], out["dataset"], out["metric"])
    ]
    return out
