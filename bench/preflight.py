"""Checks before the first run of a suite: every method config and everything a method reads
besides the data (LLM folders, ID-encoder settings).

A suite runs its ID baselines first; an input that only its eighth run reads used to fail an
hour in. The runner reads every dataset and prepares every split right after these checks,
still before the first run.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.errors import UserError


def check_runs(specs: Sequence, world: int = 1) -> None:
    """Raise UserError for the first bad input of any run; writes nothing."""
    from bench.configs import content_hash
    from bench.methods import METHODS

    methods = [(spec, METHODS.get(spec.method)(spec.config)) for spec in specs]  # config typos first: they cost nothing
    for spec, method in methods:
        if world > 1 and not method.distributed:
            raise UserError(f"{spec.name} trains in one process; run it with plain `bench run`, not under accelerate launch (WORLD_SIZE={world})")
    checked: set[str] = set()
    for spec, method in methods:
        key = content_hash({"method": spec.method, "config": spec.config})  # several seeds of one config: checked once
        if key not in checked:
            checked.add(key)
            method.preflight()
