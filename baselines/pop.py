"""MostPop: every user gets the same ranking, items ordered by how often they were interacted with.

The counts come from the split's training sequences only (`bench.data.splits.train_item_counts`;
under a few-shot split, the training users' only), as every other method's fit does: the
validation target does not count, neither for the validation ranking nor for the test ranking,
although the test history contains it. A score is the item's plain count; items with equal
counts tie, and the evaluator counts ties against the target (an item never seen in training
shares the last rank with every other unseen item).
The history is ignored, and items already in it are not removed (the protocol never removes
them). It is the floor of the main tables: a method below it has learned nothing personal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.configs import from_mapping
from bench.methods import FitContext, Method, ParameterCounts


@dataclass(frozen=True)
class PopConfig:
    """No settings: the config exists so a misspelt key is rejected, not ignored."""


class MostPop(Method):
    family = "Non-personalised"
    # True: its only input is the interaction log keyed by item ID, pooled over all users
    # (what other users consumed), with no text at all; that is collaborative information,
    # even though it learns no embedding and nothing per user.
    uses_collaborative_ids = True
    # nothing to train: under a launch each process counts the same training items and the main
    # one records, so a suite that carries the floor row (peft) is not refused
    distributed = True

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.cfg = from_mapping(PopConfig, config, "method pop")
        self._scores = None

    @classmethod
    def config_for_fraction(cls, config, scale: int):
        return config  # nothing to train

    def fit(self, split, ctx: FitContext) -> dict[str, Any]:
        import torch

        from bench.data.splits import train_item_counts

        counts = train_item_counts(split)
        self._scores = torch.as_tensor(counts, dtype=torch.float32)
        self._scores[0] = float("-inf")  # padding never competes
        return {"epochs": 0, "counted_interactions": int(counts.sum()), "items_never_seen": int((counts[1:] == 0).sum())}

    def score(self, histories: Sequence[Sequence[int]]):
        if self._scores is None:
            raise RuntimeError("score() before fit()")
        return self._scores.expand(len(histories), -1).clone()

    def parameter_counts(self) -> ParameterCounts:
        # counted as peft counts: numel of parameters. The count vector is a statistic, not a
        # parameter (no gradient ever reaches it), like a buffer that peft leaves out too.
        return ParameterCounts(trainable=0, total=0)
