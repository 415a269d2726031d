"""Our evaluator vs RecBole's own, and the split that RecBole trains on."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.methods import METHODS, FitContext
from bench.runner import evaluate
from bench.data.splits import leave_one_out, save_split


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


def test_recbole_trains_and_scores_where_its_batches_go(trained_sasrec):
    """RecBole's Trainer moves batches to config["device"] (cuda whenever CUDA is up) while the
    model is built on the CPU: on a GPU host every RecBole run failed until both went to one device."""
    method, split, _, _ = trained_sasrec
    trainer, _ = method._oracle
    assert next(method.model.parameters()).device == trainer.device
    assert method.score(split.histories("test")[:3]).device.type == "cpu"  # the evaluator's side


def test_recbole_is_handed_the_gpus_already_visible(monkeypatch, tmp_path):
    """RecBole writes gpu_id into CUDA_VISIBLE_DEVICES; its default "0" would narrow a process
    that sees several GPUs (a multi-GPU launch) to the first once CUDA starts."""
    import torch

    method = METHODS.get("sasrec")({})
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert method._recbole_config(tmp_path, tmp_path, 0, 10)["gpu_id"] == "2,3"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert method._recbole_config(tmp_path, tmp_path, 0, 10)["gpu_id"] == ",".join(map(str, range(torch.cuda.device_count())))


def test_recbole_training_rows_never_hold_validation_or_test_targets(trained_sasrec):
    from baselines.recbole.models import ATOMIC, export_split

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


def test_using_recbole_leaves_autograd_anomaly_mode_as_it_was(tmp_path):
    """RecBole's SINE module turns anomaly detection on for the whole process when imported;
    that made every later backward pass (Laser's included) ~30% slower. A fresh process, so
    the import really happens here."""
    code = (
        "import sys, torch\n"
        "from pathlib import Path\n"
        "from baselines.recbole.compat import recbole_context\n"
        "with recbole_context(Path(sys.argv[1])):\n"
        "    from recbole.trainer import Trainer\n"
        "    from recbole.utils import get_model\n"
        "    get_model('SINE')\n"
        "    inside = torch.is_anomaly_enabled()\n"
        "print(inside, torch.is_anomaly_enabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
