"""Record facts: metric names, families, labels, values, and the consistency checks every table runs first."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.errors import UserError


TUNED_LLM_FAMILY = "LLM-based (tuned LLM)"  # as baselines/peft/base.py names it
LASER_FAMILY = "Laser"
FAMILIES = ("ID-based", TUNED_LLM_FAMILY, LASER_FAMILY)
# MostPop's family: the floor, so always the last group of a table (after families we do not know)
FLOOR_FAMILY = "Non-personalised"
NO_LLM_FAMILIES = ("ID-based", FLOOR_FAMILY)
# the harness's own controls (an LLM-free M-Former tower, Laser fused with its ID encoder): they
# answer what carries Laser's accuracy, are not methods of the paper, and so never share a group,
# a place or the Improv. comparison with its rows (a group of their own above the floor)
CONTROL_FAMILY = "control"
OTHER_FAMILY = "Other"  # records that failed before their method said which family it is
DEFAULT_METRICS = ("recall@10", "ndcg@10", "mrr")
DEFAULT_BACKBONE = "SmolLM2-135M-Instruct"
ALPHA = 0.05
PAPER_RESULTS = Path(__file__).parents[1] / "reference" / "paper_results.csv"
PAPER_SOURCE = "Zhang et al. 2024, arXiv 2409.01605"
PAPER_DATASETS = "Amazon 2018"
# the paper's table for each ablation component's variant table; a component not listed has no
# published numbers (our scale steps toward the released code, Fig. 4's encoder, pre-training):
# listing the paper's components, not ours, keeps a new step from borrowing Table 4. The experts'
# Table 7 is a K x L grid of its own.
PAPER_TABLE_OF_COMPONENT: dict[str, int] = {"m_former": 4, "prefix": 4, "stages": 4, "suffix": 5, "template": 6}
# orderings the paper shows in a figure without numbers we have: (component, variant) -> where the
# variant lies against the full model there, and what the paper shows. Only the sign is compared.
PAPER_FIGURE_ORDERING: dict[tuple[str, str], tuple[str, str]] = {
    ("id_encoder", "sasrec"): ("below", "Fig. 4: BERT4Rec as the ID encoder beats SASRec by 17% on Pet"),
}
PAPER_GRID_TABLE = 7
# our ablation variant -> the paper's key for it (bench/reference/paper_results.csv), where the names
# differ: the `stages` component (laser/ablations.py) names its variants after our engine's two-phase
# loop (phase1_epochs / phase2_epochs), the paper's Table 4 calls the same runs "w/o stage 1 / 2".
# Kept here, not read from laser/: the reports see records only. Unlisted variants use their own name.
PAPER_KEY_OF_VARIANT = {"no_phase1": "no_stage1", "no_phase2": "no_stage2"}
TUNING_BY_FAMILY = {
    "ID-based": "full training",
    TUNED_LLM_FAMILY: "tuned LLM",
    LASER_FAMILY: "prefix + suffix tokens, LLM frozen",
    FLOOR_FAMILY: "none (training counts)",
    CONTROL_FAMILY: "control (not a method of the paper)",
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


def split_identity(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """Split settings as the split hash reads them (defaults filled in: records made before a
    setting existed ran with its default); None for settings that no longer build."""
    from bench.configs import from_mapping
    from bench.data.splits import SplitSettings

    try:
        return from_mapping(SplitSettings, settings or {}, "split settings").hashed()
    except UserError:
        return None


def backbone(record: dict[str, Any], family: str) -> str:
    config = record.get("config") or {}
    llm = config.get("llm") or config.get("backbone") or (record.get("training") or {}).get("backbone")
    if llm:
        return Path(str(llm).rstrip("/")).name or str(llm)
    return "-" if family in NO_LLM_FAMILIES or family == CONTROL_FAMILY else DEFAULT_BACKBONE


def tuning(record: dict[str, Any], family: str) -> str:
    told = (record.get("training") or {}).get("tuning") or {}  # the LLM baselines say what they tuned
    label = told.get("label") if isinstance(told, dict) else None
    return str((record.get("config") or {}).get("tuning") or label or TUNING_BY_FAMILY.get(family, "-"))


def precision(record: dict[str, Any]) -> str | None:
    """The arithmetic a run trained its LLM in, after `auto` was resolved on its host; None
    for a method without an LLM."""
    told = (record.get("training") or {}).get("precision")
    if told is None:
        resolved = record.get("resolved_config") or {}
        if "dtype" not in resolved:
            return None
        # records from before runs stored it: `auto` meant bf16 on the hosts they ran on, which had
        # bf16 in hardware, unless the record names a host whose torch dispatches to AVX2 or less
        # (no avx512_bf16 there: `auto` fell back to fp32)
        bf16 = (record.get("host") or {}).get("cpu_capability") not in ("DEFAULT", "AVX2")
        auto = {"dtype": "bf16" if bf16 else "fp32", "autocast": "bf16" if bf16 else "off"}
        told = {"dtype": resolved["dtype"], "autocast": resolved.get("autocast", "auto")}
        told = {k: auto[k] if v == "auto" else v for k, v in told.items()}
    return f"{told['dtype']} weights, autocast {told['autocast']}"


def mixed_precision(records: Iterable[dict[str, Any]], row=lambda r: r.get("name")) -> dict[Any, str]:
    """Rows (`row(record)`) whose finished seeds trained at different precisions -> which seed
    had which: two such seeds are not the same arithmetic, whatever their run key says."""
    seeds: dict[Any, dict[str, list[int]]] = {}
    for r in records:
        if is_ok(r) and (p := precision(r)) is not None:
            seeds.setdefault(row(r), {}).setdefault(p, []).append(r.get("seed"))
    return {
        key: "; ".join(f"seed{'s' if len(s) > 1 else ''} {', '.join(map(str, sorted(s)))}: {p}" for p, s in by.items())
        for key, by in seeds.items()
        if len(by) > 1
    }


def family_order(families: Iterable[str]) -> list[str]:
    present = list(dict.fromkeys(families))
    last = [f for f in (CONTROL_FAMILY, FLOOR_FAMILY) if f in present]
    middle = [f for f in present if f not in FAMILIES and f not in last]
    return [f for f in FAMILIES if f in present] + middle + last


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
