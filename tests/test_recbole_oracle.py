"""Our evaluator vs RecBole's own, and the split that RecBole trains on."""

from __future__ import annotations


import pytest

from bench.methods import METHODS, FitContext
from bench.runner import evaluate
from bench.splits import leave_one_out, save_split


@pytest.fixture(scope="module")
def trained_sasrec(ml100k_small, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    split = leave_one_out(ml100k_small)
    save_split(results, split)
    method = METHODS.get("sasrec")({"epochs": 2, "max_seq_length": 20, "train_batch_size": 256})
    info = method.fit(split, FitContext(workdir=results / "work", seed=0, results_root=results, progress=False))
    return method, split, info, results


def test_our_metrics_equal_recbole_evaluator(trained_sasrec):
    method, split, info, _ = trained_sasrec
    _, ours = evaluate(method, split, "test")
    theirs = method.recbole_test_metrics()
    # RecBole breaks score ties by topk order, we count them against the target; with
    # continuous scores from a trained model there are no ties, so the numbers agree exactly.
    assert ours["recall@10"] == pytest.approx(theirs["recall@10"], abs=1e-4)
    assert ours["ndcg@10"] == pytest.approx(theirs["ndcg@10"], abs=1e-4)
    assert info["epochs"] == 2 and len(info["curve"]) == 2


def test_recbole_training_rows_never_hold_validation_or_test_targets(trained_sasrec):
    from baselines.recbole_models import ATOMIC, export_split

    _, split, _, results = trained_sasrec
    root = export_split(results, split, 20) / ATOMIC
    users = [split.dataset.user_ids[u] for u in split.user_index]
    held_out = {u: {split.dataset.item_ids[v - 1], split.dataset.item_ids[t - 1]} for u, v, t in zip(users, split.valid_target, split.test_target)}
    # ml-100k has no repeated (user, item) pairs, so any appearance would be a leak
    rows = (root / f"{ATOMIC}.train.inter").read_text().splitlines()[1:]
    assert len(rows) == sum(len(s) - 1 for s in split.train)
    for line in rows:
        user, history, target = line.split("\t")
        assert target not in held_out[user]
        assert not held_out[user] & set(history.split())
    # validation rows see only the training sequence
    for line in (root / f"{ATOMIC}.valid.inter").read_text().splitlines()[1:]:
        user, history, target = line.split("\t")
        assert not held_out[user] & set(history.split())
