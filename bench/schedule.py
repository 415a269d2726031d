"""The order in which `bench run --jobs N` starts its runs: the longest expected first.

joblib hands out runs in the order it is given them. In suite order the main suite's two
longest runs (Laser and full fine-tuning, about an hour each on one thread) started last,
behind the ID baselines, and the two lanes of `--jobs 2` ended 47 minutes apart (issue 31).
Longest first (the LPT rule) ends the lanes close together.

A run's expected time is the median wall time (training, evaluation and probes) of the
finished records in the results folder of the same method and profile, current or stale (an
estimate only needs the size), preferring those of the same run name and dataset; without any,
a default per method family.
A run whose record is finished costs nothing: it is only read back.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.results import wall_seconds
from bench.suites import RunSpec

# Minutes per run of a method family when no record says better: the `cpu` profile's runs on one
# thread of a 2-core machine (README "Two commands"), rounded. Only their order matters.
DEFAULT_MINUTES = {
    "Laser": 60.0,
    "LLM-based (tuned LLM)": 55.0,
    "ID-based": 6.0,
    "Non-personalised": 0.1,
    "control": 15.0,  # LLM-free (mformer_tower) or a re-scoring of a finished run (laser_fusion): a guess until they have records
}
UNKNOWN_FAMILY_MINUTES = 30.0


def _profile(config: dict | None, resolved: dict | None) -> Any:
    return (resolved or {}).get("profile") or (config or {}).get("profile")


def _times(records: Iterable[dict[str, Any]]) -> dict[tuple, list[float]]:
    """(method, profile, name, dataset) -> total seconds of its finished runs."""
    out: dict[tuple, list[float]] = {}
    for r in records:
        seconds = wall_seconds(r)
        if r.get("status") != "ok" or seconds is None:
            continue
        ident = (r.get("method"), _profile(r.get("config"), r.get("resolved_config")), r.get("name"), r.get("dataset"))
        out.setdefault(ident, []).append(float(seconds))
    return out


def _records(results: Path) -> Iterable[dict[str, Any]]:
    """Every readable record: a corrupt one is no reason not to start the runs."""
    from bench.errors import UserError
    from bench.results import read_record, runs_dir

    for path in sorted(runs_dir(results).rglob("*.json")):
        try:
            yield read_record(path)
        except UserError:
            continue


def expected_minutes(spec: RunSpec, times: dict[tuple, list[float]], family: str | None = None, profile: Any = None) -> tuple[float, str]:
    """(minutes, where the number comes from) for one run."""
    levels = [
        ("records of this run", lambda k: k == (spec.method, profile, spec.name, spec.dataset)),
        ("records of this method and profile on this dataset", lambda k: k[:2] == (spec.method, profile) and k[3] == spec.dataset),
        ("records of this method and profile", lambda k: k[:2] == (spec.method, profile)),
    ]
    for source, matches in levels:
        found = [s for k, seconds in times.items() if matches(k) for s in seconds]
        if found:
            return statistics.median(found) / 60, f"{source} ({len(found)})"
    return DEFAULT_MINUTES.get(family or "", UNKNOWN_FAMILY_MINUTES), f"default for {family or 'an unknown family'}"


def longest_first(specs: Sequence[RunSpec], results: Path, done: Sequence[bool] | None = None) -> list[int]:
    """Indices of `specs` in the order to start them: longest expected first, finished runs
    (`done`) last, ties in suite order."""
    from bench.methods import METHODS

    times = _times(_records(Path(results)))
    minutes = []
    for i, spec in enumerate(specs):
        if done is not None and done[i]:
            minutes.append(0.0)
            continue
        method = METHODS.get(spec.method)(spec.config)  # only resolves the config (see bench/methods.py)
        minutes.append(expected_minutes(spec, times, method.family, _profile(spec.config, method.resolved_config()))[0])
    return sorted(range(len(specs)), key=lambda i: -minutes[i])
