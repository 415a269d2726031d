"""Each claim of `claims.CLAIMS` against the records: ours, the paper's, the paired test and a verdict.

A comparison's effect, interval and p-value are over the seeds both sides ran (the paired
sample); the means ± std beside them are each side's over all of its seeds, as the other tables
give them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.report.claims import Comparison, PaperNumbers, ParameterShare, Side
from bench.report.records import ALPHA, backbone, is_ok, metric_label, metric_value, tags

HOLDS, REVERSED, NOT_SIGNIFICANT, UNTESTED = "holds", "reversed", "not significant", "untested here"
VERDICTS = (HOLDS, REVERSED, NOT_SIGNIFICANT, UNTESTED)

CLAIM_COLUMNS = (
    "claim", "source", "statement", "paper", "paper_low", "paper_high", "metric", "stage", "dataset", "backbone", "profile",
    "a", "b", "a_mean", "a_std", "a_seeds", "b_mean", "b_std", "b_seeds",
    "effect_percent", "ci_low", "ci_high", "p_value", "users", "paired_seeds", "verdict", "note",
)


@dataclass(frozen=True)
class Row:
    """One table row standing for a side on one dataset: its name and, per seed, value and ranks."""

    name: str
    values: dict[int, float]
    ranks: dict[int, list]
    record: dict[str, Any]  # its first seed's, for the conditions

    @property
    def mean(self) -> float:
        return sum(self.values.values()) / len(self.values)

    @property
    def std(self) -> float:
        if len(self.values) < 2:
            return float("nan")
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values.values()) / (len(self.values) - 1))


def _matches(record: dict[str, Any], side: Side) -> bool:
    variant = tags(record).get("variant")
    resolved = record.get("resolved_config") or {}
    return (
        is_ok(record)
        and (side.variant is None or variant == side.variant)
        and all(resolved.get(k) == v for k, v in side.settings)
        and not (side.not_settings and all(resolved.get(k) == v for k, v in side.not_settings))
        and (side.families is None or record.get("family") in side.families)
        and (side.methods is None or record.get("method") in side.methods)
    )


def side_row(records: Sequence[dict[str, Any]], side: Side, dataset: str, metric: str, stage: str) -> Row | None:
    """The row standing for `side` on `dataset`: of the matching rows, the one with the highest mean."""
    rows: dict[str, Row] = {}
    for r in records:
        if r.get("dataset") != dataset or not _matches(r, side) or not (r.get("ranks") or {}).get(stage):
            continue
        row = rows.setdefault(r["name"], Row(r["name"], {}, {}, r))
        row.values[r["seed"]] = metric_value(r, metric, stage)
        row.ranks[r["seed"]] = r["ranks"][stage]
    return max(rows.values(), key=lambda row: row.mean, default=None)


def paper_effect(claim: Comparison, paper) -> tuple[float, float, str]:
    """(low, high, words) of the paper's effect: a stated range, or read from its published table."""
    numbers = claim.paper_effect
    if numbers is None:
        return float("nan"), float("nan"), claim.paper
    if not isinstance(numbers, PaperNumbers):
        return numbers[0], numbers[1], claim.paper
    rows = paper[(paper["table"] == numbers.table) & paper["dataset"].notna()]
    found = []
    for dataset, part in rows.groupby("dataset", sort=False):
        values = dict(zip(part["key"], part[numbers.metric]))
        a, rivals = values.get(numbers.a), [values[k] for k in numbers.b if k in values and not math.isnan(values[k])]
        if a is None or math.isnan(a) or not rivals:
            continue
        b = max(rivals)
        ref = a if claim.relative_to == "a" else b
        found.append(((a - b) / ref * 100, dataset))
    if not found:
        return float("nan"), float("nan"), claim.paper
    effects = [e for e, _ in found]
    direction = "lower" if claim.relative_to == "a" else "higher"
    split = " (validation)" if (rows["split"] == "valid").all() else ""
    each = [f"{e:.1f}%" + (f" {direction}" if i == 0 else "") + f" on {d.capitalize()}" for i, (e, d) in enumerate(found)]
    words = f"{metric_label(numbers.metric)} " + ", ".join(each) + split
    return min(effects), max(effects), (claim.paper + ": " if claim.paper else "") + words


def verdict(effect: float, p: float) -> str:
    """Holds or reversed only where the paired test is significant; the sign says which."""
    if math.isnan(p) or math.isnan(effect) or p >= ALPHA or effect == 0:
        return NOT_SIGNIFICANT
    return HOLDS if effect > 0 else REVERSED


def conditions(record: dict[str, Any]) -> dict[str, str]:
    config = record.get("resolved_config") or record.get("config") or {}
    return {"dataset": record.get("dataset"), "backbone": backbone(record, record.get("family") or ""), "profile": str(config.get("profile") or "-")}


def _row(claim, paper: tuple[float, float, str], note: str = "", **fields) -> dict[str, Any]:
    """A claim's row: untested unless `fields` say otherwise."""
    return {
        "claim": claim.id, "source": claim.source, "statement": claim.statement, "paper": paper[2],
        "paper_low": paper[0], "paper_high": paper[1], "metric": getattr(claim, "metric", ""), "stage": getattr(claim, "stage", ""),
        "dataset": "-", "backbone": "-", "profile": "-", "verdict": UNTESTED, "note": note, **fields,
    }


def suite_words(pool: str) -> str:
    """A suite pool as a page names it: "the main suite", "the fewshot5 suite"."""
    from bench.report.claims import MAIN

    return "the main suite" if pool == MAIN else f"the {pool} suite"


def _no_runs(side: Side, records: Sequence[dict[str, Any]], dataset: str | None = None) -> str:
    """Why a side has no row: which runs would give it one."""
    from bench.report.claims import SUITE_POOLS

    where = f" on {dataset}" if dataset else ""
    if side.pool in SUITE_POOLS:
        return f"no finished run of {suite_words(side.pool)}{where} is on this side (bench run --suite {side.pool})"
    command = f"bench ablate --component {side.pool}" + (f" --variants {side.variant}" if side.variant else "")
    if not any(is_ok(r) for r in records):
        return f"the {side.pool} ablation has no finished run ({command})"
    wanted = f"variant {side.variant}" if side.variant else ", ".join(f"{k} = {v}" for k, v in side.settings) if side.settings else "its variants"
    return f"no finished run of the {side.pool} ablation{where} with {wanted} ({command})"


def comparison_rows(claim: Comparison, pool: Callable[[str], list], paper) -> list[dict[str, Any]]:
    from bench.report.frames import paired_wilcoxon
    from bench.report.paired import paired_effect

    published = paper_effect(claim, paper)
    if claim.a is None or claim.b is None:
        return [_row(claim, published, claim.why_untested)]
    a_pool, b_pool = pool(claim.a.pool), pool(claim.b.pool)
    datasets = sorted({r["dataset"] for r in a_pool if _matches(r, claim.a)})
    if not datasets:
        return [_row(claim, published, _no_runs(claim.a, a_pool))]
    rows = []
    for dataset in datasets:
        a = side_row(a_pool, claim.a, dataset, claim.metric, claim.stage)
        b = side_row(b_pool, claim.b, dataset, claim.metric, claim.stage)
        if a is None or b is None:
            rows.append(_row(claim, published, _no_runs(*((claim.a, a_pool) if a is None else (claim.b, b_pool)), dataset), dataset=dataset))
            continue
        sides = dict(a=a.name, b=b.name, a_mean=a.mean, a_std=a.std, a_seeds=len(a.values), b_mean=b.mean, b_std=b.std, b_seeds=len(b.values))
        effect = paired_effect(a.ranks, b.ranks, claim.metric, claim.relative_to)
        if effect is None:
            rows.append(_row(claim, published, f"{a.name} and {b.name} share no seed: nothing to pair", **conditions(a.record), **sides))
            continue
        p, users, seeds = paired_wilcoxon(a.ranks, b.ranks, claim.metric)
        rows.append(_row(
            claim, published, **conditions(a.record), **sides, effect_percent=effect.percent, ci_low=effect.low, ci_high=effect.high,
            p_value=p, users=users, paired_seeds=seeds, verdict=verdict(effect.percent, p),
        ))
    return rows


def parameter_rows(claim: ParameterShare, pool: Callable[[str], list]) -> list[dict[str, Any]]:
    from bench.report.claims import LASER, MAIN

    laser = [r for r in pool(MAIN) if _matches(r, LASER) and (r.get("parameters") or {}).get("trainable_percent") is not None]
    paper = (float("nan"), float("nan"), claim.paper)
    if not laser:
        return [_row(claim, paper, f"no finished Laser run of the main suite (bench run --suite main). {claim.note}", metric="trainable %")]
    rows = []
    for dataset in sorted({r["dataset"] for r in laser}):
        runs = sorted((r for r in laser if r["dataset"] == dataset), key=lambda r: r["seed"])
        first, params = runs[0], runs[0]["parameters"]
        percent = float(params["trainable_percent"])
        resolved = first.get("resolved_config") or {}
        tokens = (resolved.get("queries") or 0) + (resolved.get("suffix_tokens") or 0)
        side = params.get("llm_side_trainable")
        llm_side = f"; LLM-side {side:,} = ({resolved.get('queries')} + {resolved.get('suffix_tokens')}) x {side // tokens:,}" if side and tokens and side % tokens == 0 else ""
        counted = f"{percent:.2f}% of all parameters, frozen LLM and ID encoder included ({params['trainable']:,} of {params['total']:,}){llm_side}."
        rows.append(_row(
            claim, paper, f"{counted} {claim.note}", **conditions(first), metric="trainable %",
            a=first["name"], a_mean=percent, a_seeds=len(runs), verdict=HOLDS if percent < claim.limit_percent else REVERSED,
        ))
    return rows


def claims_frame(claims, pool: Callable[[str], list], paper):
    """One row per claim and dataset (one "untested here" row for a claim with no runs)."""
    import pandas as pd

    rows = []
    for claim in claims:
        rows += parameter_rows(claim, pool) if isinstance(claim, ParameterShare) else comparison_rows(claim, pool, paper)
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS)).astype({"a_seeds": "Int64", "b_seeds": "Int64", "users": "Int64", "paired_seeds": "Int64"})
