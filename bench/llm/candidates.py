"""Phase 1's candidate items: each row's positive against sampled negatives, every candidate
encoded once per batch (with gradient) however many rows share it.

Rows may contrast against (a) `negatives` items drawn uniformly per row (the released code: 10),
or one draw shared by the batch (`shared`), and (b) the batch's other positives
(`in_batch`). Candidates are de-duplicated, so a negative that equals a row's positive is that
row's positive column: it is never counted against it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch


def candidate_batch(positives: Sequence[int], n_items: int, negatives: int, shared: bool, in_batch: bool, rng: random.Random):
    """-> (candidate items [C], allowed [B, C] bool, target column [B])."""
    draws = [rng.sample(range(1, n_items + 1), min(negatives, n_items))] if shared else [rng.sample(range(1, n_items + 1), min(negatives, n_items)) for _ in positives]
    column: dict[int, int] = {}
    for item in list(positives) + [i for d in draws for i in d]:
        column.setdefault(item, len(column))
    B = len(positives)
    allowed = torch.zeros(B, len(column), dtype=torch.bool)
    for r, p in enumerate(positives):
        allowed[r, [column[i] for i in draws[0 if shared else r]]] = True
        if in_batch:
            allowed[r, [column[q] for q in positives]] = True
        allowed[r, column[p]] = True
    target = torch.tensor([column[p] for p in positives])
    return list(column), allowed, target
