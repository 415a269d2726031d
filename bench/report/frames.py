"""Pure functions: run records in, pandas DataFrames out (runs, summaries, Laser vs the best baseline, parameters, resolved configs, cost).

numpy, pandas and scipy are imported inside the functions, so importing this module costs nothing."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from bench.errors import UserError
from bench.report.records import ALPHA, CONTROL_FAMILY, LASER_FAMILY, OTHER_FAMILY, TUNED_LLM_FAMILY, PARAMETER_COLUMNS, RUN_COLUMNS, backbone, family_order, is_ok, metric_value, tags, tuning


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
    """`place`: 1 for the best mean of each (dataset, metric), 2 for the runner-up, 0 otherwise; ties share.
    Control rows take no place: bold and underline rank the paper's methods."""
    out = summary.copy()
    ranked = out["mean"].where(out["family"] != CONTROL_FAMILY) if "family" in out else out["mean"]

    def place(values):
        distinct = sorted(set(values.dropna()), reverse=True)[:2]
        return values.map(lambda v: distinct.index(v) + 1 if v in distinct else 0)

    out["place"] = ranked.groupby([out["dataset"], out["metric"]], sort=False).transform(place).astype(int)
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


def improvements(summary, records: Sequence[dict[str, Any]], stage: str = "test", family: str | None = None, each: bool = False):
    """Per (dataset, metric): the best Laser row vs the best row of another of the paper's families (or the best row of
    `family`: the floor's, to say whether Laser beats a most-popular list), relative gain and
    p-value; `significant` (p < ALPHA, Laser better) and `significantly_worse` (p < ALPHA, Laser worse).
    `each`: Laser vs every row of `family` instead of its best (the tuned-LLM baselines, which
    share Laser's engine and examples: each is a comparison the reader asks for by name)."""
    import pandas as pd

    ranks = rank_index(records, stage)
    rows = []
    for (dataset, metric), column in summary.dropna(subset=["mean"]).groupby(["dataset", "metric"], sort=False):
        laser = column[column["family"] == LASER_FAMILY]
        others = column[~column["family"].isin([LASER_FAMILY, CONTROL_FAMILY])]
        base = others if family is None else column[column["family"] == family]
        if laser.empty or base.empty:
            continue
        best_laser = laser.loc[laser["mean"].idxmax()]
        for _, other in (base.iterrows() if each else [(None, base.loc[base["mean"].idxmax()])]):
            gain = (best_laser["mean"] - other["mean"]) / other["mean"] * 100 if other["mean"] > 0 else float("nan")
            p, users, seeds = paired_wilcoxon(
                ranks.get((best_laser["name"], dataset), {}), ranks.get((other["name"], dataset), {}), metric
            )
            rows.append(
                {
                    "dataset": dataset,
                    "metric": metric,
                    "laser": best_laser["name"],
                    "baseline": other["name"],
                    "laser_mean": best_laser["mean"],
                    "baseline_mean": other["mean"],
                    "improv_percent": gain,
                    "p_value": p,
                    "users": users,
                    "seeds": seeds,
                    "significant": bool(p < ALPHA and gain > 0),
                    # a loss as clear as a win: without its own mark it read as "no difference"
                    "significantly_worse": bool(p < ALPHA and gain < 0),
                }
            )
    columns = ["dataset", "metric", "laser", "baseline", "laser_mean", "baseline_mean", "improv_percent", "p_value", "users", "seeds", "significant", "significantly_worse"]
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
CONFIG_GROUP_OF_FAMILY = {TUNED_LLM_FAMILY: _LLM_GROUP, LASER_FAMILY: _LLM_GROUP}


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
        # the epochs that trained: an LLM curve opens with its untrained model's validation (`init`), which trains nothing
        epochs = [e for e in curve if e.get("phase") != "init"]
        mean = lambda key: round(sum(e[key] for e in epochs) / len(epochs), 2) if epochs and all(key in e for e in epochs) else None  # noqa: E731
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
