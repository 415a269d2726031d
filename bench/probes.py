"""Attribution probes: a trained run scored again on the test users with one input changed.

Each probe is the method's own (`Method.probes`, applied by `Method.probed`): for Laser
`id_shuffled` (each user's ID-encoder states are another user's, through a seeded
derangement), `item_id_shuffled` (each item's prefix from another item's ID state),
`id_mean` (every ID state replaced by the mean state, both sides), and for every LLM method
`text_shuffled` (the item -> title map permuted in history and item prompts alike) and
`text_blank` (user prompts keep no history titles). A probe's result is the full-ranking
metrics and per-user test ranks, so a paired test against the unprobed run is one call away.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.runner import evaluate


def run_probes(method, split, seed: int, names: Sequence[str] | None = None, between: Callable[[], Any] | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """{probe: {metrics, ranks, seconds}} on the test users, for `names` (default: all the method has)."""
    results: dict[str, Any] = {}
    for name in names if names is not None else method.probes:
        t0 = time.perf_counter()
        with method.probed(name, split, seed):
            ranks, metrics = evaluate(method, split, "test", between=between)
        results[name] = {"metrics": metrics, "ranks": ranks, "seconds": round(time.perf_counter() - t0, 1)}
        if log is not None:
            log(f"probe {name}: ndcg@10={metrics['ndcg@10']:.4f} recall@10={metrics['recall@10']:.4f} mrr={metrics['mrr']:.4f} ({results[name]['seconds']:.0f}s)")
    return results
