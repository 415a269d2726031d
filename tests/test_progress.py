"""Progress on the long steps: the ID models' epochs (a baseline's own, Laser's frozen encoder),
and the line bars that replace redrawn bars where several runs share a terminal (bench/progress.py)."""

from __future__ import annotations

import io

from bench import progress
from bench.methods import FitContext, METHODS


def test_an_id_baseline_reports_every_epoch_with_its_validation_score(split, results, tmp_path):
    seen = []
    method = METHODS.get("gru4rec")({"epochs": 3, "max_seq_length": 10, "stopping_step": 5})
    info = method.fit(split, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False, on_epoch=seen.append))
    assert [e["epoch"] for e in seen] == ["1/3", "2/3", "3/3"]
    assert [e["valid_ndcg@10"] for e in seen] == [e["valid_ndcg@10"] for e in info["curve"]]
    assert all(e["patience"].endswith("/5") and e["loss"] > 0 and e["best"] >= e["valid_ndcg@10"] for e in seen)
    assert seen[-1]["best"] == info["best_valid_ndcg@10"]


def test_lasers_frozen_encoder_shows_its_training_as_the_runs_own_lines(split, tmp_path):
    """Its epochs were silent: about 15 minutes at the start of a Laser run on ml-100k."""
    from bench.data.splits import save_split
    from laser.method import LaserMethod
    from tests.laser_fixtures import TINY_LASER, tiny_backbone

    root = tmp_path / "results"
    save_split(root, split)  # no cached encoder: this run trains it
    seen = []
    method = LaserMethod({**TINY_LASER, "id_encoder_config": {**TINY_LASER["id_encoder_config"], "epochs": 2}}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    method._encoder(split, FitContext(workdir=tmp_path / "w", seed=0, results_root=root, progress=False, on_epoch=seen.append))
    assert seen[0]["note"].startswith("training the frozen BERT4Rec encoder")
    assert [(e["id_encoder"], e["epoch"]) for e in seen[1:]] == [("BERT4Rec", "1/2"), ("BERT4Rec", "2/2")]
    assert all("valid_ndcg@10" in e for e in seen[1:])


def test_a_line_bar_names_its_run_and_stays_quiet_on_short_steps():
    out = io.StringIO()
    with progress.labelled("laser ml-100k seed=0"):
        bar = progress.LineBar(range(4), desc="phase1 epoch 0", unit="batch", interval_s=0, stream=out)
    assert list(bar) == [0, 1, 2, 3]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("  [laser ml-100k seed=0] phase1 epoch 0:  25% 1/4")
    assert lines[-1].startswith("  [laser ml-100k seed=0] phase1 epoch 0: 100% 4/4") and len(lines) == 4  # the end once
    quiet = io.StringIO()
    with progress.LineBar(desc="test evaluation", total=943, unit="user", interval_s=3600, stream=quiet) as manual:
        manual.update(256)
    assert quiet.getvalue() == ""  # nothing shown until the interval: no lines for short steps


def test_a_worker_draws_lines_not_bars(monkeypatch):
    from tqdm import tqdm

    monkeypatch.setattr(progress, "_forced_lines", False)
    monkeypatch.setattr(progress, "_isatty", lambda stream: True)
    assert isinstance(progress.bar(range(3), desc="items"), tqdm)  # one process, a terminal
    progress.use_lines()  # what the runner does in a joblib worker
    assert isinstance(progress.bar(range(3), desc="items"), progress.LineBar)
    assert isinstance(progress.bar(range(3), desc="items", disable=True), tqdm)  # --quiet: tqdm's no-op
