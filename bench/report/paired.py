"""Paired comparisons of two rows over the same users: the relative effect and its bootstrap interval.

The p-value stays `frames.paired_wilcoxon`'s; this module adds how large the difference is and
how sure, on exactly the sample that test pairs (the seeds both rows have, each user's value
averaged over them). numpy is imported inside the functions."""

from __future__ import annotations

from dataclasses import dataclass

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 0  # one fixed stream: a report rebuilt from the same records draws the same resamples
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Effect:
    """a vs b on the users and seeds both have: mean per-user values, the relative effect in %
    (against b's mean, or a's: `relative_to`) and its paired-bootstrap interval."""

    a_mean: float
    b_mean: float
    percent: float
    low: float
    high: float
    users: int
    seeds: int


def paired_values(a: dict[int, list], b: dict[int, list], metric: str):
    """Per-user `metric` of a and of b, each averaged over the seeds both have; None without one."""
    import numpy as np

    from bench.metrics import per_user_metric

    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    x = np.mean([per_user_metric(a[s], metric) for s in seeds], axis=0)
    y = np.mean([per_user_metric(b[s], metric) for s in seeds], axis=0)
    if x.shape != y.shape:
        raise ValueError(f"{len(x)} vs {len(y)} evaluated users: a paired comparison needs one split")
    return x, y, len(seeds)


def _relative(a_mean, b_mean, relative_to: str):
    import numpy as np

    ref = np.asarray(a_mean if relative_to == "a" else b_mean, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ref > 0, (np.asarray(a_mean) - np.asarray(b_mean)) / np.where(ref > 0, ref, 1.0) * 100, np.nan)


def paired_effect(a: dict[int, list], b: dict[int, list], metric: str, relative_to: str = "b") -> Effect | None:
    """How far a lies above b, in % of b's mean (`relative_to="b"`: a gain) or of a's (`"a"`: what
    b loses against a), with a percentile interval from resampling users (the same users for both
    rows, so the pairing is kept). None when the rows share no seed."""
    import numpy as np

    values = paired_values(a, b, metric)
    if values is None:
        return None
    x, y, seeds = values
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = rng.integers(0, len(x), size=(BOOTSTRAP_SAMPLES, len(x)))
    boot = _relative(x[draws].mean(axis=1), y[draws].mean(axis=1), relative_to)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.nanpercentile(boot, [tail, 100 - tail]) if np.isfinite(boot).any() else (float("nan"), float("nan"))
    return Effect(float(x.mean()), float(y.mean()), float(_relative(x.mean(), y.mean(), relative_to)), float(low), float(high), len(x), seeds)
