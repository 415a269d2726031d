"""Batches of similar prompt length, so a batch pads to little more than its own rows.

Rows are right-padded to the longest in their batch; with random batches of ml-100k prompts
(items 54-76 tokens, users 94-130 at history 3) that padding was 9-17% of every forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Inference: all rows sorted by length (stable), cut into consecutive batches."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def bucketed_batches(lengths: Sequence[int], batch_size: int, window: int, generator: torch.Generator | None = None) -> list[list[int]]:
    """Training: the (already shuffled) rows in windows of `window` batches, each window sorted
    by length and cut into batches, then the order of all batches shuffled. `window` 1 keeps
    plain consecutive batches in their original order."""
    if window <= 1:
        return [list(range(i, min(i + batch_size, len(lengths)))) for i in range(0, len(lengths), batch_size)]
    batches = []
    span = batch_size * window
    for start in range(0, len(lengths), span):
        idx = sorted(range(start, min(start + span, len(lengths))), key=lengths.__getitem__)
        batches.extend(idx[i : i + batch_size] for i in range(0, len(idx), batch_size))
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in order]


def count_bucketed_batches(n_rows: int, batch_size: int, window: int) -> int:
    """len(bucketed_batches(...)) for n_rows rows, without drawing anything (a schedule's length)."""
    if window <= 1:
        return -(-n_rows // batch_size)
    span = batch_size * window
    full, rest = divmod(n_rows, span)
    return full * window + -(-rest // batch_size)
