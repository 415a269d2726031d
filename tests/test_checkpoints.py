"""Training checkpoints: a run killed inside a phase resumes to the uninterrupted run's result;
a truncated or corrupt checkpoint costs an epoch (or the run's time), never the result; a
checkpoint of another format is refused; a run interrupted before the file's rename resumes."""

from __future__ import annotations

import pytest
import torch

from bench.errors import UserError
from bench.llm.checkpoint import CHECKPOINT_NAME, LEGACY_NAME, PREVIOUS_NAME, CheckpointWarning, EpochCheckpoint
from bench.methods import FitContext
from bench.runner import evaluate
from laser.method import LaserMethod
from tests.laser_fixtures import TINY_LASER, tiny_backbone

EPOCHS = {"phase1_epochs": 3, "phase2_epochs": 2}


class Killed(Exception):
    """Stands for a kill: raised from the epoch callback, before that epoch's checkpoint is written."""


@pytest.fixture(scope="module")
def encoder(split, results, tmp_path_factory):
    method, ctx = make(split, results, tmp_path_factory.mktemp("enc"))
    return method._encoder(split, ctx)


def make(split, results, workdir, kill_at=None):
    def on_epoch(info):
        if (info.get("phase"), info.get("phase_epoch")) == kill_at:
            raise Killed(kill_at)

    method = LaserMethod({**TINY_LASER, **EPOCHS}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    return method, FitContext(workdir=workdir, seed=0, results_root=results, progress=False, on_epoch=on_epoch)


def fit_counting_epochs(method, split, ctx, encoder):
    """-> (fit info, the labels of the epochs this process trained)."""
    trained, train_epoch = [], method.train_epoch
    method.train_epoch = lambda *args, **kwargs: trained.append(args[5]) or train_epoch(*args, **kwargs)
    return method.fit(split, ctx, encoder), trained


def outcome(method, info, split):
    """What must not depend on an interruption: every epoch's loss and validation, the kept
    epoch, and the test metrics."""
    curve = [(e["phase"], e.get("phase_epoch"), e["loss"], e["valid_ndcg@10"]) for e in info["curve"]]
    return curve, info["best_epoch"], evaluate(method, split, "test")[1]


@pytest.fixture(scope="module")
def uninterrupted(split, encoder, results, tmp_path_factory):
    method, ctx = make(split, results, tmp_path_factory.mktemp("whole"))
    info, trained = fit_counting_epochs(method, split, ctx, encoder)
    assert len(trained) == 5
    return outcome(method, info, split)


def killed_run(split, encoder, results, workdir, kill_at):
    method, ctx = make(split, results, workdir, kill_at)
    with pytest.raises(Killed):
        method.fit(split, ctx, encoder)


def epochs(*labels):
    return [f"{phase} epoch {e}" for phase, e in labels]


@pytest.mark.parametrize(
    "kill_at,retrained",
    [
        (("phase1", 1), epochs(("phase1", 1), ("phase1", 2), ("phase2", 0), ("phase2", 1))),  # phase 1 has an epoch left after it
        (("phase2", 1), epochs(("phase2", 1))),  # the last epoch: phase 2's optimizer and schedule come back mid-phase
    ],
)
def test_a_run_killed_inside_a_phase_resumes_to_the_uninterrupted_result(split, encoder, results, tmp_path, uninterrupted, kill_at, retrained):
    killed_run(split, encoder, results, tmp_path, kill_at)
    method, ctx = make(split, results, tmp_path)
    info, trained = fit_counting_epochs(method, split, ctx, encoder)
    assert trained == retrained  # from the last checkpoint on, nothing before it again
    assert outcome(method, info, split) == uninterrupted


def test_a_truncated_checkpoint_falls_back_to_the_previous_epoch(split, encoder, results, tmp_path, uninterrupted):
    killed_run(split, encoder, results, tmp_path, ("phase1", 2))  # checkpoints after phase-1 epochs 1 (latest) and 0 (previous)
    latest = tmp_path / CHECKPOINT_NAME
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    method, ctx = make(split, results, tmp_path)
    with pytest.warns(CheckpointWarning) as caught:
        info, trained = fit_counting_epochs(method, split, ctx, encoder)
    assert [str(w.message) for w in caught] == info["checkpoint_notes"]
    assert trained == epochs(("phase1", 1), ("phase1", 2), ("phase2", 0), ("phase2", 1))
    assert outcome(method, info, split) == uninterrupted
    assert (tmp_path / f"{CHECKPOINT_NAME}.corrupt").exists()  # set aside, out of the way of the next save
    assert "corrupt or truncated" in info["checkpoint_notes"][0]  # the record says what happened
    assert f"resuming from {PREVIOUS_NAME}" in info["checkpoint_notes"][1]


def test_with_no_readable_checkpoint_the_run_starts_over_with_a_warning(split, encoder, results, tmp_path, uninterrupted):
    killed_run(split, encoder, results, tmp_path, ("phase1", 2))
    for name in (CHECKPOINT_NAME, PREVIOUS_NAME):
        (tmp_path / name).write_bytes(b"not a checkpoint")
    method, ctx = make(split, results, tmp_path)
    with pytest.warns(CheckpointWarning) as caught:
        info, trained = fit_counting_epochs(method, split, ctx, encoder)
    assert [str(w.message).split(": ", 1)[1] for w in caught] == [
        f"corrupt or truncated training checkpoint (UnpicklingError), moved aside to {CHECKPOINT_NAME}.corrupt",
        f"corrupt or truncated training checkpoint (UnpicklingError), moved aside to {PREVIOUS_NAME}.corrupt",
        "no readable training checkpoint left; the run starts over from its first epoch",
    ]
    assert len(trained) == 5
    assert outcome(method, info, split) == uninterrupted


def test_a_run_interrupted_under_the_old_checkpoint_name_and_layout_resumes(split, encoder, results, tmp_path, uninterrupted):
    killed_run(split, encoder, results, tmp_path, ("phase1", 1))
    blob = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    del blob["format"]  # as the code before the format version wrote it, under the old name
    torch.save(blob, tmp_path / LEGACY_NAME)
    (tmp_path / CHECKPOINT_NAME).unlink()
    assert not (tmp_path / PREVIOUS_NAME).exists()  # killed after the first checkpoint
    method, ctx = make(split, results, tmp_path)
    info, trained = fit_counting_epochs(method, split, ctx, encoder)
    assert trained == epochs(("phase1", 1), ("phase1", 2), ("phase2", 0), ("phase2", 1))
    assert outcome(method, info, split) == uninterrupted
    assert not (tmp_path / LEGACY_NAME).exists()  # stepped back to the previous checkpoint at the first save


# ---------------------------------------------------------------- the file itself, without training


def tiny_state():
    model = torch.nn.Linear(3, 2)
    return model, torch.optim.AdamW(model.parameters())


def test_checkpoints_carry_their_format_and_the_previous_one_is_kept(tmp_path):
    model, optimizer = tiny_state()
    ckpt = EpochCheckpoint(tmp_path)
    ckpt.save(model, optimizer, {"epoch": 1})
    ckpt.save(model, optimizer, {"epoch": 2})
    assert torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)["format"] == 1
    assert torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)["state"] == {"epoch": 2}
    assert torch.load(tmp_path / PREVIOUS_NAME, weights_only=True)["state"] == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [PREVIOUS_NAME, CHECKPOINT_NAME]  # no temp file left


def test_a_checkpoint_of_another_format_is_refused(tmp_path):
    model, optimizer = tiny_state()
    EpochCheckpoint(tmp_path).save(model, optimizer, {"epoch": 1})
    blob = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    torch.save({**blob, "format": 2}, tmp_path / CHECKPOINT_NAME)
    with pytest.raises(UserError, match=r"checkpoint format 2, but this code reads format 1; .*delete .* to restart"):
        EpochCheckpoint(tmp_path).load(model)


def test_a_checkpoint_without_a_format_key_is_format_1(tmp_path):
    model, optimizer = tiny_state()
    EpochCheckpoint(tmp_path).save(model, optimizer, {"epoch": 3})
    blob = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    del blob["format"]
    torch.save(blob, tmp_path / CHECKPOINT_NAME)
    with torch.no_grad():
        model.weight.zero_()
    state, _ = EpochCheckpoint(tmp_path).load(model)
    assert state == {"epoch": 3} and torch.equal(model.weight, blob["weights"]["weight"])
