"""Edge cases of the protocol that the other tests did not pin: tied scores, the metrics against
an independent computation, the atomic reader's equal-timestamp order, and the atomic write."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from bench.metrics import metrics_from_ranks, ranks_from_scores


def test_ties_count_against_the_target_by_hand():
    # column 0 is padding (never competes); items 1..5
    scores = torch.tensor([
        [9.0, 0.5, 0.5, 0.5, 0.1, 0.9],  # target 2 ties items 1 and 3, item 5 is above: rank 4
        [0.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # everything equal: the worst rank, 5
        [0.0, 0.2, 0.7, 0.7, 0.3, 0.1],  # target 3 ties item 2 only: rank 2
        [0.0, 0.9, 0.1, 0.2, 0.3, 0.4],  # target 1 strictly best: rank 1
    ])
    assert ranks_from_scores(scores, [2, 4, 3, 1]).tolist() == [4, 5, 2, 1]


def _independent(ranks, k):
    """Recall, NDCG@k and MRR written out per user, without numpy's vector forms."""
    recall = sum(1 for r in ranks if r <= k) / len(ranks)
    ndcg = sum((1 / math.log(r + 1, 2)) if r <= k else 0.0 for r in ranks) / len(ranks)
    mrr = sum(1 / r for r in ranks) / len(ranks)
    return recall, ndcg, mrr


@pytest.mark.parametrize("k", [5, 20])
def test_mrr_and_ndcg_match_an_independent_computation(k):
    rng = np.random.default_rng(0)
    scores = torch.tensor(rng.integers(0, 6, size=(50, 31)).astype(np.float32))  # many ties
    targets = rng.integers(1, 31, size=50)
    ranks = ranks_from_scores(scores, targets).tolist()
    # the rank by its definition: real items (1..30) scored >= the target
    assert ranks == [int(sum(scores[u, 1:] >= scores[u, t])) for u, t in enumerate(targets)]
    got = metrics_from_ranks(ranks, ks=(k,))
    recall, ndcg, mrr = _independent(ranks, k)
    assert got[f"recall@{k}"] == pytest.approx(recall, abs=1e-12)
    assert got[f"ndcg@{k}"] == pytest.approx(ndcg, abs=1e-12)
    assert got["mrr"] == pytest.approx(mrr, abs=1e-12)


def test_equal_timestamps_keep_the_inter_files_row_order(tmp_path):
    from bench.data import load_atomic

    folder = tmp_path / "ties"
    folder.mkdir()
    # user a: three items at the same time, in file order c, a, b; one earlier item last in the file
    (folder / "ties.inter").write_text(
        "user_id:token\titem_id:token\ttimestamp:float\n"
        "a\tc\t5\na\ta\t5\nb\tx\t1\na\tb\t5\na\tz\t1\nb\ty\t1\nb\tz\t2\n"
    )
    d = load_atomic(folder)
    seq = {d.user_ids[u]: [d.item_ids[i - 1] for i in s] for u, s in enumerate(d.sequences)}
    assert seq["a"] == ["z", "c", "a", "b"]  # time first, then file order among equal times
    assert seq["b"] == ["x", "y", "z"]


def test_a_record_write_that_fails_midway_keeps_the_old_record_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import bench.io
    from bench.results import write_record

    path = tmp_path / "runs" / "d" / "m-abc.json"
    write_record(path, {"status": "ok", "value": 1})
    old = path.read_bytes()

    def killed(fd):  # the new text is in the temp file; the writer dies before the rename
        raise OSError("killed midway")

    monkeypatch.setattr(bench.io.os, "fsync", killed)
    with pytest.raises(OSError, match="killed midway"):
        write_record(path, {"status": "ok", "value": 2, "long": "x" * 100_000})
    assert path.read_bytes() == old and json.loads(old)["value"] == 1
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_the_atomic_write_removes_its_temp_file_when_the_writer_fails(tmp_path):
    from bench.io import atomic_path, atomic_write_text

    target = tmp_path / "x.txt"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a fil")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]
    folder = tmp_path / "dir"
    with pytest.raises(RuntimeError):
        with atomic_path(folder, folder=True) as tmp:
            (tmp / "a").write_text("a")
            raise RuntimeError("killed")
    assert not folder.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]
