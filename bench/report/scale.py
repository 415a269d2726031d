"""The claims page's scale section: Laser / BERT4Rec at each step of `claims.SCALE_STEPS`, on
validation (where the steps are chosen), so a reader sees whether the gap narrows toward the
paper's configuration; a step of the profile is also set against the profile's own Laser runs,
the test that adopts it. Beside Laser, a step that changes M-Former shows M-Former alone (the
towers suite's mformer_tower) / BERT4Rec: whether the step moves what M-Former draws from the
encoder before any LLM reads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

METRIC, STAGE = "ndcg@10", "valid"
GOAL = 0.8  # Laser's test NDCG@10 against its BERT4Rec's, mean of the main suite's seeds
STRETCH_P = 0.05  # the stretch target: Laser significantly above its BERT4Rec in some regime
SCALE_COLUMNS = (
    "step", "dataset", "laser", "laser_mean", "laser_seeds", "bert4rec_mean", "ratio", "seeds",
    "vs_profile_percent", "vs_profile_p", "tower", "tower_mean", "tower_ratio", "tower_vs_profile_percent", "tower_vs_profile_p",
    "examples_seen", "minutes", "note",
)


def _mean_or_nan(values: list) -> float:
    return sum(values) / len(values) if values and None not in values else float("nan")


def _cost(records) -> dict[str, float]:
    """Mean examples seen in LLM training and mean wall minutes of a side's runs."""
    seen = [((r.get("training") or {}).get("curve") or [{}])[-1].get("examples_seen") for r in records]
    from bench.results import wall_seconds

    seconds = [wall_seconds(r) for r in records]
    return {"examples_seen": _mean_or_nan(seen), "minutes": _mean_or_nan(seconds) / 60}


def _paired_mean(values: dict[int, float], seeds) -> float:
    return sum(values[s] for s in seeds) / len(seeds)


def _ratio(laser, ref) -> tuple[float, float, list[int]]:
    """(Laser's mean, BERT4Rec's mean, seeds) over the seeds both rows ran; (NaN, NaN, []) without a shared seed."""
    seeds = sorted(set(laser.values) & set(ref.values)) if laser and ref else []
    if not seeds:
        return float("nan"), float("nan"), []
    return _paired_mean(laser.values, seeds), _paired_mean(ref.values, seeds), seeds


def _datasets(runs, side, stage: str) -> list[str]:
    """The datasets on which `side` has a row of `stage`."""
    from bench.report.claim_frames import side_row

    return sorted({r["dataset"] for r in runs if side_row([r], side, r["dataset"], METRIC, stage)})


def _versus(row, base, prefix: str) -> dict[str, float]:
    """`row` against `base` (in % of base, paired over the seeds both ran) and the paired p; {} without both."""
    from bench.report.frames import paired_wilcoxon
    from bench.report.paired import paired_effect

    if row is None or base is None or (effect := paired_effect(row.ranks, base.ranks, METRIC, "b")) is None:
        return {}
    return {f"{prefix}_percent": effect.percent, f"{prefix}_p": paired_wilcoxon(row.ranks, base.ranks, METRIC)[0]}


def _tower(step, pool: Callable[[str], list], dataset: str, ref) -> dict[str, Any]:
    """The step's M-Former with no LLM: its mean, its ratio to the step's BERT4Rec (over the seeds
    both ran) and, for a step off the profile, its change against the profile's own tower; {} where
    the step has no tower or its tower did not run."""
    from bench.report.claim_frames import side_row
    from bench.report.claims import PROFILE_TOWER

    tower = side_row(pool(step.tower.pool), step.tower, dataset, METRIC, STAGE) if step.tower is not None else None
    if tower is None:
        return {}
    tower_mean, b4r, seeds = _ratio(tower, ref)
    out: dict[str, Any] = {"tower": tower.name, "tower_mean": tower.mean, "tower_ratio": tower_mean / b4r if seeds else float("nan")}
    if step.tower != PROFILE_TOWER:
        out.update(_versus(tower, side_row(pool(PROFILE_TOWER.pool), PROFILE_TOWER, dataset, METRIC, STAGE), "tower_vs_profile"))
    return out


def _laser(step, pool: Callable[[str], list], runs, dataset: str, ref) -> dict[str, Any]:
    """The step's Laser runs: mean, cost, ratio to the step's BERT4Rec and, for a step of the
    profile, its change against the profile's Laser (the adoption test); a note where a side is missing."""
    from bench.report.claim_frames import _matches, _no_runs, side_row
    from bench.report.claims import LASER, MAIN

    laser = side_row(runs, step.laser, dataset, METRIC, STAGE)
    if laser is None:
        return {"note": _no_runs(step.laser, runs, dataset)}
    row = {"laser": laser.name, "laser_mean": laser.mean, "laser_seeds": len(laser.values)}
    row.update(_cost([r for r in runs if r.get("dataset") == dataset and r.get("name") == laser.name and _matches(r, step.laser)]))
    laser_mean, b4r, seeds = _ratio(laser, ref)
    if not seeds:
        return {**row, "note": "no BERT4Rec run of the same regime and seed: " + _no_runs(step.reference, pool(step.reference.pool), dataset)}
    row.update(bert4rec_mean=b4r, ratio=laser_mean / b4r, seeds=len(seeds))
    base = side_row(pool(MAIN), LASER, dataset, METRIC, STAGE) if step.of_profile and step.laser != LASER else None
    return {**row, **_versus(laser, base, "vs_profile")}


def scale_frame(steps, pool: Callable[[str], list]):
    """One row per step and dataset on which its Laser or its tower ran: ratios are of means over
    the seeds both sides ran; a step with neither is one row that says which command gives it."""
    import pandas as pd

    from bench.report.claim_frames import _no_runs, side_row

    rows: list[dict[str, Any]] = []
    for step in steps:
        runs = pool(step.laser.pool)
        datasets = set(_datasets(runs, step.laser, STAGE)) | (set(_datasets(pool(step.tower.pool), step.tower, STAGE)) if step.tower else set())
        if not datasets:
            rows.append({"step": step.label, "dataset": "-", "note": _no_runs(step.laser, runs)})
        for dataset in sorted(datasets):
            ref = side_row(pool(step.reference.pool), step.reference, dataset, METRIC, STAGE)
            rows.append({"step": step.label, "dataset": dataset, **_laser(step, pool, runs, dataset, ref), **_tower(step, pool, dataset, ref)})
    return pd.DataFrame(rows, columns=list(SCALE_COLUMNS)).astype({"laser_seeds": "Int64", "seeds": "Int64"})


def scale_view(frame):
    from bench.report.layout import WILCOXON_TEST, Cell, TableView, _present, fmt, fmt_p
    from bench.report.records import metric_label

    def either(value, text: str) -> Cell:
        return Cell(text if _present(value) else "–")

    rows = []
    for r in frame.itertuples(index=False):
        if r.dataset == "-":
            rows.append([Cell(r.step), Cell("–"), Cell("–"), Cell("not run")] + [Cell("–")] * 6)
            continue
        tower_change = f"{r.tower_vs_profile_percent:+.1f}% (p {fmt_p(r.tower_vs_profile_p)})" if _present(r.tower_vs_profile_percent) else ""
        rows.append([
            Cell(f"{r.step} ({r.dataset})"), Cell(f"{fmt(r.laser_mean)} ({r.laser_seeds})" if _present(r.laser_mean) else "not run"), either(r.bert4rec_mean, fmt(r.bert4rec_mean)),
            either(r.ratio, f"{r.ratio:.2f}x"), either(r.vs_profile_percent, f"{r.vs_profile_percent:+.1f}%"), either(r.vs_profile_p, fmt_p(r.vs_profile_p)),
            either(r.tower_ratio, f"{r.tower_ratio:.2f}x"), either(r.tower_vs_profile_percent, tower_change),
            either(r.examples_seen, f"{r.examples_seen:,.0f}"), either(r.minutes, f"{r.minutes:.0f}"),
        ])
    label = metric_label(METRIC)
    notes = [
        f"Validation {label} (the steps are chosen on validation). Laser: mean over its seeds (how many in brackets); "
        "BERT4Rec: the same regime's (the main suite's, or the few-shot suite's) over the seeds both ran; Laser / BERT4Rec: the ratio of those means.",
        "vs profile: the step against the cpu profile's own Laser runs, in % of the profile's, over the seeds both ran; "
        "p: " + WILCOXON_TEST.format(pair="step vs profile") + " (below 0.05 and within the time budget, a step is adopted into the profile).",
        "M-Former alone: the towers suite's mformer_tower (the same encoder, M-Former, pre-training and phases with no LLM) at the step's M-Former "
        "settings, against the same BERT4Rec, and against the profile's own tower (change in %, paired p): whether the step raises what "
        "M-Former draws from the encoder before any LLM reads it (bench run --suite towers; a step that changes no M-Former setting has none).",
    ]
    notes += [f"{r.step}: {r.note.strip().rstrip('.')}." for r in frame.itertuples(index=False) if isinstance(r.note, str) and r.note.strip()]
    notes.append("Examples: the training examples Laser's LLM phases saw; minutes: a run's wall time, pre-training, probes and evaluation included (each record names its host, threads and arithmetic).")
    columns = ["Step", f"Laser {label}", f"BERT4Rec {label}", "Laser / BERT4Rec", "vs profile", "p", "M-Former alone / BERT4Rec", "M-Former alone vs profile", "Examples", "Minutes"]
    return TableView("Scale: Laser against its BERT4Rec at each step toward the paper's configuration", columns, rows, notes=notes, left=1)


def goal_line(pool: Callable[[str], list]) -> str:
    """How far the main suite's Laser stands from the goal, on test (read once, not chosen on)."""
    from bench.report.claim_frames import side_row
    from bench.report.claims import BERT4REC, LASER, MAIN

    runs = pool(MAIN)
    lines = []
    for dataset in sorted({r["dataset"] for r in runs}):
        laser_mean, b4r, seeds = _ratio(side_row(runs, LASER, dataset, METRIC, "test"), side_row(runs, BERT4REC, dataset, METRIC, "test"))
        if seeds:
            ratio = laser_mean / b4r
            where = "reached" if ratio >= GOAL else f"{GOAL - ratio:.2f} short of it"
            lines.append(
                f"The goal for the cpu profile: Laser's test NDCG@10 at least {GOAL}x its BERT4Rec's over the main suite's seeds. "
                f"On {dataset} today: {ratio:.2f}x over {len(seeds)} seeds ({laser_mean:.4f} against {b4r:.4f}), {where}."
            )
    return " ".join(lines)


def stretch_line(pool: Callable[[str], list]) -> str:
    """Whether Laser stands significantly above its own BERT4Rec, on test, in any regime measured
    (the main suite and each few-shot suite): each regime's paired change and p."""
    from bench.report.claim_frames import side_row, suite_words
    from bench.report.claims import BERT4REC, REGIMES, Side, laser_in
    from bench.report.frames import paired_wilcoxon
    from bench.report.layout import fmt_p
    from bench.report.paired import paired_effect
    from bench.report.records import metric_label

    parts, met = [], False
    for suite in REGIMES:
        runs, name, side = pool(suite), suite_words(suite), laser_in(suite)
        datasets = _datasets(runs, side, "test")
        if not datasets:
            parts.append(f"{name}: no Laser run (bench run --suite {suite} --methods laser)")
        for dataset in datasets:
            laser = side_row(runs, side, dataset, METRIC, "test")
            ref = side_row(runs, Side(suite, methods=BERT4REC.methods), dataset, METRIC, "test")
            effect = paired_effect(laser.ranks, ref.ranks, METRIC, "b") if ref is not None else None
            if effect is None:
                parts.append(f"{name} on {dataset}: no BERT4Rec run of the same seeds")
                continue
            p = paired_wilcoxon(laser.ranks, ref.ranks, METRIC)[0]
            met = met or (effect.percent > 0 and p < STRETCH_P)
            seeds = _ratio(laser, ref)[2]
            parts.append(f"{name} on {dataset} {effect.percent:+.1f}% (p = {fmt_p(p)}, {len(seeds)} seed{'s' * (len(seeds) > 1)})")
    return (
        f"The stretch target: Laser above its BERT4Rec on test with p < {STRETCH_P} in at least one regime measured. "
        f"Laser against its BERT4Rec, {metric_label(METRIC)}: " + "; ".join(parts) + (". Met." if met else ". Not met.")
    )
