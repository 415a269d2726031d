"""What carries Laser's accuracy: the attribution probes and the controls, as frames, and what they say.

A probe's result is compared with the same run unprobed, user by user: with the run re-scored in
the probe's sitting (`probes["none"]`) where the record has it (the same host and code as the
probes), else with the run's own test ranks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.report.records import ALPHA, CONTROL_FAMILY, LASER_FAMILY, is_ok
from bench.results import is_main_run

UNPROBED = "none"
# the order the probes are read in: the ID path (user side, item side, both), then the text path
PROBE_ORDER = ("id_shuffled", "item_id_shuffled", "id_mean", "text_shuffled", "text_blank")
PROBE_COLUMNS = ("dataset", "name", "probe", "mean", "std", "seeds", "reference_mean", "change_percent", "ci_low", "ci_high", "p_value", "users", "failed")
CONTROL_COLUMNS = (
    "dataset", "name", "mean", "std", "seeds", "lambdas",
    *[f"{side}_{c}" for side in ("bert4rec", "laser") for c in ("mean", "effect_percent", "ci_low", "ci_high", "p_value", "seeds")],
)
ID_SIGNAL_PERCENT = 10.0  # a user-side shuffle costing less than this share of NDCG@10 leaves no user-specific signal worth the name
BERT4REC, LASER = "bert4rec", "laser"


def main_runs(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Finished runs that are not ablation variants nor few-shot (`is_main_run`: they would pair
    with the main suite's runs of the same names and seeds), each once (suites share runs)."""
    seen = {}
    for r in records:
        if is_ok(r) and is_main_run(r):
            seen.setdefault(r.get("key"), r)
    return list(seen.values())


def _reference(record: dict[str, Any]) -> list | None:
    none = (record.get("probes") or {}).get(UNPROBED)
    return none["ranks"] if isinstance(none, dict) and none.get("ranks") else (record.get("ranks") or {}).get("test")


def _probe_results(record: dict[str, Any]) -> tuple[dict[str, list], list[str]]:
    """{probe: its test ranks} and the probes that failed (a failed sitting fails them all)."""
    probes = record.get("probes")
    if not isinstance(probes, dict):
        return {}, []
    if isinstance(probes.get("error"), str):
        return {}, ["all"]
    done = {n: p["ranks"] for n, p in probes.items() if n != UNPROBED and isinstance(p, dict) and p.get("ranks")}
    failed = [n for n, p in probes.items() if n != UNPROBED and n not in done]
    return done, failed


def _ordered(names) -> list[str]:
    return [n for n in PROBE_ORDER if n in names] + sorted(n for n in names if n not in PROBE_ORDER)


def probe_frame(records: Sequence[dict[str, Any]], metric: str = "ndcg@10"):
    """Per (dataset, method row, probe): the probed metric over seeds, the unprobed one over the
    same seeds, the paired relative change with its bootstrap interval, and the paired p."""
    import numpy as np
    import pandas as pd

    from bench.metrics import per_user_metric
    from bench.report.frames import paired_wilcoxon
    from bench.report.paired import paired_effect

    probed: dict[tuple, dict[str, dict[int, list]]] = {}
    reference: dict[tuple, dict[int, list]] = {}
    failed: dict[tuple, dict[str, int]] = {}
    for r in main_runs(records):
        done, broken = _probe_results(r)
        if not done and not broken:
            continue
        row = (r["dataset"], r["name"])
        for name, ranks in done.items():
            probed.setdefault(row, {}).setdefault(name, {})[r["seed"]] = ranks
            reference.setdefault(row, {})[r["seed"]] = _reference(r)
        for name in broken:
            failed.setdefault(row, {}).setdefault(name, 0)
            failed[row][name] += 1
    rows = []
    for row in sorted(set(probed) | set(failed)):
        for name in _ordered(set(probed.get(row, {})) | set(failed.get(row, {}))):
            by_seed = probed.get(row, {}).get(name, {})
            base = {s: reference[row][s] for s in by_seed}
            values = [float(per_user_metric(ranks, metric).mean()) for ranks in by_seed.values()]
            effect = paired_effect(by_seed, base, metric) if by_seed else None
            p, users, _ = paired_wilcoxon(by_seed, base, metric) if by_seed else (float("nan"), 0, 0)
            rows.append({
                "dataset": row[0], "name": row[1], "probe": name,
                "mean": float(np.mean(values)) if values else float("nan"),
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else float("nan"),
                "seeds": len(values),
                "reference_mean": effect.b_mean if effect else float("nan"),
                "change_percent": effect.percent if effect else float("nan"),
                "ci_low": effect.low if effect else float("nan"), "ci_high": effect.high if effect else float("nan"),
                "p_value": p, "users": users, "failed": failed.get(row, {}).get(name, 0),
            })
    return pd.DataFrame(rows, columns=list(PROBE_COLUMNS))


def _ranks_of(runs, name: str, dataset: str, family: str | None = None) -> dict[int, list]:
    return {r["seed"]: r["ranks"]["test"] for r in runs if r["name"] == name and r["dataset"] == dataset and (family is None or r.get("family") == family)}


def control_frame(records: Sequence[dict[str, Any]], metric: str = "ndcg@10"):
    """Per (dataset, control row): the metric over seeds, and its paired effect (in % of the
    other's mean) and p against BERT4Rec and against Laser; the fusion weights it chose."""
    import numpy as np
    import pandas as pd

    from bench.metrics import per_user_metric
    from bench.report.frames import paired_wilcoxon
    from bench.report.paired import paired_effect

    runs = [r for r in main_runs(records) if (r.get("ranks") or {}).get("test")]
    rows = []
    for dataset, name in dict.fromkeys((r["dataset"], r["name"]) for r in runs if r.get("family") == CONTROL_FAMILY):
        own = _ranks_of(runs, name, dataset, CONTROL_FAMILY)
        values = [float(per_user_metric(v, metric).mean()) for v in own.values()]
        lambdas = [((r.get("training") or {}).get("fusion") or {}).get("lambda") for r in runs if r["name"] == name and r["dataset"] == dataset]
        row = {
            "dataset": dataset, "name": name, "mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else float("nan"),
            "seeds": len(values), "lambdas": ", ".join(f"{x:g}" for x in lambdas if x is not None),
        }
        for side, family in ((BERT4REC, None), (LASER, LASER_FAMILY)):
            other = _ranks_of(runs, side, dataset, family)
            effect = paired_effect(own, other, metric)
            p, _, seeds = paired_wilcoxon(own, other, metric) if effect else (float("nan"), 0, 0)
            row.update({
                f"{side}_mean": effect.b_mean if effect else float("nan"), f"{side}_effect_percent": effect.percent if effect else float("nan"),
                f"{side}_ci_low": effect.low if effect else float("nan"), f"{side}_ci_high": effect.high if effect else float("nan"),
                f"{side}_p_value": p, f"{side}_seeds": seeds,
            })
        rows.append(row)
    return pd.DataFrame(rows, columns=list(CONTROL_COLUMNS))


def _p(p: float) -> str:
    return f"p = {p:.3g}"


def findings(probes, controls) -> list[str]:
    """The two questions the probes and controls answer, in words, per dataset; "not measured yet" without records."""
    lines = []
    shuffled = probes[(probes["name"] == LASER) & (probes["probe"] == "id_shuffled") & (probes["seeds"] > 0)]
    if shuffled.empty:
        lines.append("Does Laser's prefix carry user-specific collaborative signal? Not measured yet (no Laser run with the `id_shuffled` probe).")
    for r in shuffled.itertuples(index=False):
        cost = -r.change_percent
        head = (
            f"On {r.dataset}, giving each user another user's ID-encoder states (`id_shuffled`) changes Laser's NDCG@10 by {r.change_percent:+.1f}% "
            f"({r.reference_mean:.4f} to {r.mean:.4f}, {_p(r.p_value)}, {r.seeds} seed{'s' if r.seeds != 1 else ''}): "
        )
        if cost < ID_SIGNAL_PERCENT:
            lines.append(head + f"less than {ID_SIGNAL_PERCENT:.0f}% of it, so the prefix does not carry user-specific collaborative signal here.")
        else:
            lines.append(head + f"at least {ID_SIGNAL_PERCENT:.0f}% of it, so the prefix carries user-specific collaborative signal here.")
    fusion = controls[(controls["name"] == "laser_fusion") & controls["bert4rec_seeds"].gt(0)] if not controls.empty else controls
    if fusion.empty:
        lines.append("Does Laser's text path add anything to its BERT4Rec encoder? Not measured yet (no `laser_fusion` run paired with BERT4Rec).")
    for r in fusion.itertuples(index=False):
        head = f"On {r.dataset}, Laser fused with its BERT4Rec encoder (`laser_fusion`) is {r.bert4rec_effect_percent:+.1f}% against BERT4Rec ({_p(r.bert4rec_p_value)}): "
        if r.bert4rec_p_value < ALPHA and r.bert4rec_effect_percent > 0:
            lines.append(head + "significantly above it, so Laser's text path adds something BERT4Rec does not have.")
        elif r.bert4rec_p_value < ALPHA:
            lines.append(head + "significantly below it: at the weight validation chose, adding Laser's scores costs BERT4Rec accuracy on test, so nothing here shows Laser's text path adding to what BERT4Rec knows.")
        else:
            lines.append(head + "not significantly different, so nothing here shows Laser's text path adding to what BERT4Rec knows.")
    tower = controls[(controls["name"] == "mformer_tower") & controls["laser_seeds"].gt(0)] if not controls.empty else controls
    if tower.empty:
        lines.append("Does the LLM add anything to what M-Former draws from the encoder? Not measured yet (no `mformer_tower` run paired with Laser).")
    for r in tower.itertuples(index=False):
        head = f"On {r.dataset}, M-Former with no LLM (`mformer_tower`) is {r.laser_effect_percent:+.1f}% against Laser ({_p(r.laser_p_value)}, {r.laser_seeds} seed{'s' if r.laser_seeds != 1 else ''}): "
        if r.laser_p_value < ALPHA:
            side = "below" if r.laser_effect_percent < 0 else "above"
            lines.append(head + f"significantly {side} it, so the LLM path {'adds to' if side == 'below' else 'costs'} what M-Former alone draws from the encoder here.")
        else:
            lines.append(head + "not significantly different, so nothing here shows the LLM adding to what M-Former alone draws from the encoder.")
    return lines
