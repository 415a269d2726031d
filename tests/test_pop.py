"""MostPop on a toy split, against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.data import build_dataset
from bench.errors import UserError
from bench.methods import METHODS, FitContext
from bench.runner import evaluate
from bench.data.splits import leave_one_out, train_item_counts

# item tokens 1..6 are item indices 1..6 (natural order). Leave-one-out:
#   u1: 1 2 1 3 2 -> train (1, 2, 1), valid 3, test 2
#   u2: 2 3 1 5 6 -> train (2, 3, 1), valid 5, test 6
#   u3: 3 2 4 5   -> train (3, 2),    valid 4, test 5
SEQUENCES = {"u1": "1 2 1 3 2", "u2": "2 3 1 5 6", "u3": "3 2 4 5"}

# training counts: item 1: 2 (u1) + 1 (u2) = 3; item 2: 1 + 1 + 1 = 3 (tied with item 1);
# item 3: 1 (u2) + 1 (u3) = 2; items 4, 5, 6: 0 (they occur as targets only)
COUNTS = [0, 3, 3, 2, 0, 0, 0]

# rank = number of items scoring >= the target (ties against the target):
#   valid: u1 -> 3 (count 2): items 1, 2, 3 -> 3; u2 -> 5 (count 0): all 6; u3 -> 4 (0): 6
#   test:  u1 -> 2 (count 3): items 1, 2 -> 2, not 1: item 1's equal count beats it;
#          u2 -> 6 (0): 6; u3 -> 5 (0): 6 (had validation targets counted, item 5 would have
#          count 1 and rank 5: the validation target of u2 does not count)
VALID_RANKS = [3, 6, 6]
TEST_RANKS = [2, 6, 6]


@pytest.fixture()
def toy_split():
    seqs = {u: s.split() for u, s in SEQUENCES.items()}
    return leave_one_out(build_dataset("toy", seqs, {}, {}))


def test_train_item_counts_count_training_sequences_only(toy_split):
    assert train_item_counts(toy_split).tolist() == COUNTS
    assert train_item_counts(toy_split).dtype == np.int64


def test_mostpop_scores_ranks_and_metrics_equal_the_hand_computation(toy_split, tmp_path):
    method = METHODS.get("pop")({})
    method.fit(toy_split, FitContext(workdir=tmp_path, seed=0, results_root=tmp_path))
    scores = method.score(toy_split.histories("test"))
    assert scores.shape == (3, 7)
    for row in scores.tolist():  # the same list for every user, whatever the history
        assert row == [-math.inf] + COUNTS[1:]

    valid_ranks, valid = evaluate(method, toy_split, "valid")
    test_ranks, test = evaluate(method, toy_split, "test")
    assert valid_ranks == VALID_RANKS and test_ranks == TEST_RANKS

    ndcg = lambda r: 1 / math.log2(r + 1)  # noqa: E731
    assert test["recall@5"] == pytest.approx(1 / 3)  # only u1's target (rank 2) is in the top 5
    assert test["ndcg@5"] == pytest.approx(ndcg(2) / 3)
    assert test["recall@10"] == pytest.approx(1.0)  # 6 items: every target is in the top 10
    assert test["ndcg@10"] == pytest.approx((ndcg(2) + 2 * ndcg(6)) / 3)
    assert test["mrr"] == pytest.approx((1 / 2 + 1 / 6 + 1 / 6) / 3)
    assert valid["ndcg@10"] == pytest.approx((ndcg(3) + 2 * ndcg(6)) / 3)
    assert valid["mrr"] == pytest.approx((1 / 3 + 1 / 6 + 1 / 6) / 3)

    counts = method.parameter_counts()
    assert (counts.trainable, counts.total) == (0, 0)
    assert method.resolved_config() == {}


def test_mostpop_rejects_settings():
    with pytest.raises(UserError, match="unknown key 'epochs'"):
        METHODS.get("pop")({"epochs": 3})
