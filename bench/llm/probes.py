"""Helpers for attribution probes (bench/runner.py's run_probes runs them): seeded
derangements and temporary attribute changes. A probe changes one input of a trained model
at test time."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def derangement(n: int, seed: int, name: str) -> list[int]:
    """A seeded permutation of range(n) with no fixed point (Sattolo's algorithm: one cycle),
    so every element is moved; the same (n, seed, name) always gives the same one."""
    order = list(range(n))
    rng = random.Random(f"{seed}-{name}")
    for i in range(n - 1, 0, -1):
        j = rng.randrange(i)
        order[i], order[j] = order[j], order[i]
    return order


@contextmanager
def patched(obj: Any, **values: Any) -> Iterator[None]:
    """Set attributes of `obj` for the block, then put the old values back."""
    old = {k: getattr(obj, k) for k in values}
    try:
        for k, v in values.items():
            setattr(obj, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(obj, k, v)
