"""Frames of ablations (Tables 4-7), of the figures, and of the published numbers."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from bench.report.records import PAPER_KEY_OF_VARIANT, PAPER_RESULTS, _GRID_NAME, _K_KEYS, _L_KEYS, is_ok, metric_value, tags
from bench.report.frames import paired_wilcoxon, runs_frame, summarize


# ---------------------------------------------------------------- ablations (Tables 4-7)


def memberships(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ablation {component, variant} a run belongs to: its tags, then `also_tags` (a shared full run)."""
    return [t for t in [tags(record), *(record.get("also_tags") or [])] if t.get("component")]


def components(records: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({m["component"] for r in records for m in memberships(r)})


def ablation_records(records: Sequence[dict[str, Any]], component: str) -> tuple[list[dict[str, Any]], str | None]:
    """The component's runs, each with `tags` set to its membership of this component, and the
    other components whose full-model seeds the full row takes (None when it needs none).

    One full run serves every component (its key ignores tags), so the full row takes every seed
    of it that has a record: a record lists in `also_tags` the components it ran for, not those
    ablated later at fewer seeds, and a table whose full row lost seeds it has would contradict
    the next one. With full runs of its own, the component takes the other seeds of the same
    config; without, every full run on its datasets."""
    from bench.configs import canonical_json

    own = [{**r, "tags": m} for r in records for m in memberships(r) if m["component"] == component]
    datasets = {r["dataset"] for r in own}
    configs = {canonical_json(r.get("config") or {}) for r in own if tags(r).get("variant") == "full"}
    taken = {r["key"] for r in own}
    others: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for r in records:
        full = [m["component"] for m in memberships(r) if m.get("variant") == "full"]
        if full and r["key"] not in taken and r["dataset"] in datasets and (not configs or canonical_json(r.get("config") or {}) in configs):
            others[r["key"]] = (r, full)
    source = ", ".join(sorted({c for _, full in others.values() for c in full})) or None
    return own + [{**r, "tags": {"component": component, "variant": "full"}} for r, _ in others.values()], source


def ablation_frame(records: Sequence[dict[str, Any]], metrics: Sequence[str], stage: str = "test"):
    """Summary per (variant, dataset, metric) with `drop_percent` = (full - variant) / full * 100,
    `sign` (the variant's mean "below", "above" or "equal" to the full model's; None on the full
    row and where a mean is missing) and `p_value`, `users`, `seeds` of `paired_wilcoxon`, the
    variant's per-user values against the full model's (NaN on the full row)."""
    runs = runs_frame(records, metrics, stage)
    runs["variant"] = runs["variant"].fillna(runs["name"])
    runs = runs.sort_values("variant", key=lambda s: s != "full", kind="stable").reset_index(drop=True)
    summary = summarize(runs, metrics, rows=("variant", "name"))
    full = summary[summary["variant"] == "full"].set_index(["dataset", "metric"])["mean"]
    summary["full_mean"] = [full.get((d, m), float("nan")) for d, m in zip(summary["dataset"], summary["metric"])]
    summary["drop_percent"] = (summary["full_mean"] - summary["mean"]) / summary["full_mean"] * 100
    is_full = summary["variant"] == "full"
    summary["sign"] = [None if f else _sign(v, ref) for f, v, ref in zip(is_full, summary["mean"], summary["full_mean"])]
    # a difference of means alone can be seed noise: the same users' values, variant vs full, say whether it is
    ranks = _variant_ranks(records, stage)
    tests = [
        (float("nan"), 0, 0) if f else paired_wilcoxon(ranks.get((v, n, d), {}), _full_ranks(ranks, d), m)
        for f, v, n, d, m in zip(is_full, summary["variant"], summary["name"], summary["dataset"], summary["metric"])
    ]
    summary["p_value"] = [t[0] for t in tests]
    summary["users"] = [t[1] for t in tests]
    summary["seeds"] = [t[2] for t in tests]
    return summary


def _sign(value: float, full: float) -> str | None:
    """Where `value` lies against the full model's `full`; None when either is missing (a failed run)."""
    if math.isnan(value) or math.isnan(full):
        return None
    return "below" if value < full else "above" if value > full else "equal"


def _variant_ranks(records: Iterable[dict[str, Any]], stage: str) -> dict[tuple, dict[int, list]]:
    """(variant, name, dataset) -> {seed: per-user ranks} of ok runs, keyed as the summary's rows
    are so that each row's test uses exactly the runs its mean is over."""
    index: dict[tuple, dict[int, list]] = {}
    for r in records:
        if is_ok(r) and (r.get("ranks") or {}).get(stage):
            variant = tags(r).get("variant") or r.get("name")  # as runs_frame's rows fill it
            index.setdefault((variant, r.get("name"), r["dataset"]), {})[r["seed"]] = r["ranks"][stage]
    return index


def _full_ranks(index: dict[tuple, dict[int, list]], dataset: str) -> dict[int, list]:
    """The full model's ranks on `dataset`, by seed, whatever its row's name: the full run may be
    borrowed from another component (`ablation_records`), and `full_mean` ignores the name too."""
    seeds: dict[int, list] = {}
    for (variant, _, d), by_seed in index.items():
        if variant == "full" and d == dataset:
            seeds.update(by_seed)
    return seeds


def compare_with_paper(summary, published):
    """`ablation_frame`'s summary beside the paper's table `published` (`published_frame`):
    `paper_key`, the variant's key in the paper (its own name unless `PAPER_KEY_OF_VARIANT` says
    otherwise), then `attach_published` on that key and `attach_paper_order`."""
    keyed = summary.assign(paper_key=[PAPER_KEY_OF_VARIANT.get(v, v) for v in summary["variant"]])
    return attach_paper_order(attach_published(keyed, published, key="paper_key"), published, key="paper_key")


def attach_paper_order(summary, published, key: str = "variant"):
    """After `attach_published(summary, published, key)`: the paper's side of each variant's comparison with the full model.

    On a dataset the paper has: `published_full` (the paper's full Laser, its row of the same
    published table, same dataset and metric), `published_drop_percent` and `published_sign` (as
    `sign`, None where the paper has no number). On a dataset the paper lacks there is no number to
    set beside ours, but the paper's orderings can still be held against ours:
    `published_drop_percent_<p>` and `published_sign_<p>` for each dataset p of the paper's table
    (NaN and None on rows whose dataset the paper has). `differs_on`: the paper's datasets (", "
    between them) where both signs are known and disagree, the same dataset where the paper has
    ours, every one of its datasets where it lacks ours; `differs`: whether there is any, so that a
    report can say in words where our ordering is not the paper's."""
    paper_datasets = list(dict.fromkeys(published["dataset"].dropna()))
    out = summary.copy()
    out["published_full"], out["published_drop_percent"], out["published_sign"] = _paper_side(out, out["published"], published)
    own = [paper_dataset(str(d), paper_datasets) for d in out["dataset"]]
    differs_on = [[p] if p is not None and _disagree(s, ps) else [] for p, s, ps in zip(own, out["sign"], out["published_sign"])]
    for p in paper_datasets:
        there = out.assign(dataset=p)  # every row asks for the paper's number on p, whatever its own dataset
        _, drop, sign = _paper_side(there, attach_published(there, published, key=key)["published"], published)
        out[f"published_drop_percent_{p}"] = [x if o is None else float("nan") for x, o in zip(drop, own)]
        out[f"published_sign_{p}"] = [x if o is None else None for x, o in zip(sign, own)]
        for found, o, ours, theirs in zip(differs_on, own, out["sign"], sign):
            if o is None and _disagree(ours, theirs):
                found.append(p)
    out["differs_on"] = [", ".join(found) for found in differs_on]
    out["differs"] = [bool(found) for found in differs_on]
    return out


def _paper_side(summary, values, published) -> tuple[list[float], list[float], list[str | None]]:
    """The paper's full Laser for each row (same table, dataset and metric), `values`' drop from it
    in % and its sign (None on the full row and where either number is missing)."""
    # the same lookup as the variant's own number, with every row asking for the paper's "full" key
    full = attach_published(summary.assign(_paper_full="full"), published, key="_paper_full")["published"].tolist()
    values = [float(v) for v in values]
    drop = [(ref - v) / ref * 100 if ref else float("nan") for v, ref in zip(values, full)]
    sign = [None if f else _sign(v, ref) for f, v, ref in zip(summary["variant"] == "full", values, full)]
    return full, drop, sign


def _disagree(ours: str | None, theirs: str | None) -> bool:
    return ours is not None and theirs is not None and ours != theirs


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
