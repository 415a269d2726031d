"""Interruption, determinism and failed runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.methods import METHODS, Method, ParameterCounts
from bench.runner import run_specs
from bench.suites import RunSpec
from tests.test_cli_runs import write_atomic
from tests.conftest import slice_dataset


@pytest.fixture(scope="module")
def data_dir(ml100k, tmp_path_factory):
    return write_atomic(slice_dataset(ml100k, 60, max_len=25), tmp_path_factory.mktemp("data") / "ml-rel")


class ExplodingMethod(Method):
    """Training diverges: the loss becomes NaN on the first step."""

    family = "ID-based"

    def __init__(self, config=None) -> None:
        pass

    def resolved_config(self) -> dict:
        return {}  # no settings (and no self.cfg for the default to read)

    def fit(self, split, ctx):
        import torch

        loss = torch.tensor(float("nan"))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at epoch 0")

    def score(self, histories):
        raise AssertionError("never reached")

    def parameter_counts(self) -> ParameterCounts:
        return ParameterCounts(0, 0)


def test_same_seed_gives_identical_metrics_for_an_id_baseline(data_dir, tmp_path):
    spec = RunSpec("gru4rec", "gru4rec", str(data_dir), 3, {"epochs": 2, "max_seq_length": 10})
    a = run_specs([spec], tmp_path / "a", progress=False)[0]
    b = run_specs([spec], tmp_path / "b", progress=False)[0]
    assert a["status"] == b["status"] == "ok"
    assert a["metrics"] == b["metrics"] and a["ranks"] == b["ranks"]


def test_a_failed_run_is_recorded_with_its_reason_and_the_suite_goes_on(data_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS._entries, "explode", ExplodingMethod)
    specs = [
        RunSpec("explode", "explode", str(data_dir), 0, {}),
        RunSpec("gru4rec", "gru4rec", str(data_dir), 0, {"epochs": 1, "max_seq_length": 10}),
    ]
    records = run_specs(specs, tmp_path / "results", progress=False)
    assert [r["status"] for r in records] == ["failed", "ok"]
    assert records[0]["error"] == "FloatingPointError: loss became nan at epoch 0"
    assert "metrics" not in records[0]  # never a zero that could pass for a result
    stored = [json.loads(p.read_text()) for p in sorted((tmp_path / "results" / "runs").rglob("*.json"))]
    assert sorted(r["status"] for r in stored) == ["failed", "ok"]
    # a rerun retries the failed run and skips the finished one
    again = run_specs(specs, tmp_path / "results", progress=False)
    assert again[1]["finished"] == records[1]["finished"]
    assert again[0]["status"] == "failed" and again[0]["finished"] >= records[0]["finished"]


def test_a_forced_rerun_that_fails_keeps_the_finished_record(data_dir, tmp_path, monkeypatch):
    from baselines.recbole.models import RecBoleMethod

    spec = RunSpec("gru4rec", "gru4rec", str(data_dir), 0, {"epochs": 1, "max_seq_length": 10})
    (done,) = run_specs([spec], tmp_path / "results", progress=False)
    (path,) = (tmp_path / "results" / "runs").rglob("*.json")
    before = path.read_bytes()

    def fail(self, split, ctx):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(RecBoleMethod, "fit", fail)
    (again,) = run_specs([spec], tmp_path / "results", force=True, progress=False)
    assert done["status"] == "ok" and again["status"] == "failed"
    assert path.read_bytes() == before  # the result it was forced to replace is still there


def _bench(results: Path, suite: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # a shell that starts the tests in the background hands its children SIGINT ignored, and
    # Python keeps an ignored SIGINT: give the child the default disposition the test is about
    return subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "--results", str(results), "run", "--suite", str(suite), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_records(results: Path, n: int, proc: subprocess.Popen, timeout: float = 240) -> list[Path]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = sorted((results / "runs").rglob("*.json")) if (results / "runs").exists() else []
        if len(found) >= n:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"bench exited early: {proc.stderr.read()}")
        time.sleep(0.2)
    raise AssertionError("timed out waiting for a run record")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_an_interrupted_suite_keeps_finished_runs_and_resumes(data_dir, tmp_path, sig):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"datasets: [{data_dir}]\nseeds: [0]\nmethods:\n"
        "  gru4rec: {epochs: 1, max_seq_length: 10}\n"
        "  sasrec: {epochs: 3000, stopping_step: 3000, max_seq_length: 10}\n"  # still training when the signal comes
    )
    results = tmp_path / "results"
    proc = _bench(results, suite)
    try:
        (first,) = _wait_for_records(results, 1, proc)
        time.sleep(1.0)  # the second run is training now
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:  # a failing test must not leave a 3000-epoch run behind
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "interrupted" in proc.stderr.read()
    before = json.loads(first.read_text())
    assert before["status"] == "ok"
    assert sorted((results / "runs").rglob("*.json")) == [first]  # no half-written record
    assert not list(results.rglob("*.tmp"))
    # resume: the finished run is skipped and the rest runs (fewer epochs keep the test short)
    suite.write_text(suite.read_text().replace("epochs: 3000, stopping_step: 3000", "epochs: 1"))
    proc = _bench(results, suite)
    assert proc.wait(timeout=240) == 0, proc.stderr.read()
    assert json.loads(first.read_text()) == before
    assert len(list((results / "runs").rglob("*.json"))) == 2


def test_two_processes_on_one_results_folder_do_not_run_the_same_run(data_dir, tmp_path):
    from bench.runner import run_lock

    with run_lock(tmp_path, "abc") as first:
        with run_lock(tmp_path, "abc") as second:
            assert first is True and second is False
    with run_lock(tmp_path, "abc") as again:
        assert again is True


def test_a_resumed_runs_fit_time_counts_the_stopped_processes_work():
    from bench.runner import _timings

    fresh = _timings(0.0, 60.0, 70.0, {"fit_s_earlier_processes": 0.0})
    assert fresh == {"fit_s": 60.0, "eval_s": 10.0, "total_s": 70.0}
    assert _timings(0.0, 60.0, 70.0, None) == fresh  # a method without checkpoints
    resumed = _timings(0.0, 60.0, 70.0, {"fit_s_earlier_processes": 900.0})
    assert resumed == {"fit_s": 960.0, "eval_s": 10.0, "total_s": 970.0, "fit_s_this_process": 60.0}
