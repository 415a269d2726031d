"""`--jobs` through joblib on local processes and on a Dask cluster (a local one here; dask is a
test dependency in tox.ini): the same records as one run after another."""

from __future__ import annotations

import pytest

from bench.runner import run_specs
from bench.suites import RunSpec
from tests.test_reliability import data_dir  # noqa: F401  (fixture)


def specs(data):
    return [
        RunSpec("gru4rec", "gru4rec", str(data), 0, {"epochs": 1, "max_seq_length": 10}),
        RunSpec("stamp", "stamp", str(data), 0, {"epochs": 1, "max_seq_length": 10}),
    ]


@pytest.mark.parametrize("backend", ["loky", "dask"])
def test_parallel_runs_match_sequential_runs(data_dir, tmp_path, backend):  # noqa: F811
    sequential = run_specs(specs(data_dir), tmp_path / "seq", progress=False, threads=1)
    parallel = run_specs(specs(data_dir), tmp_path / backend, jobs=2, progress=False, threads=1, backend=backend)
    assert [r["status"] for r in parallel] == ["ok", "ok"]
    for a, b in zip(sequential, parallel):
        assert (a["name"], a["metrics"], a["ranks"]) == (b["name"], b["metrics"], b["ranks"])
    assert len(list((tmp_path / backend / "runs").rglob("*.json"))) == 2


def test_runs_share_the_cores_as_they_come_and_go(tmp_path):
    """A run takes cores // (runs active in its results folder); when another run ends (or its
    process dies without cleaning up), its cores come back at the next check."""
    import subprocess
    import sys

    import torch

    from bench.threads import CoreShare

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    before = torch.get_num_threads()
    try:
        with CoreShare(tmp_path, "a", cores=4, interval_s=600) as share:
            assert torch.get_num_threads() == 4  # alone
            other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            try:
                (tmp_path / "active" / f"b.{other.pid}").touch()  # another run, alive
                (tmp_path / "active" / f"c.{dead.pid}").touch()  # a run killed before cleaning up
                assert share.rebalance() == 4  # looked at most once per interval
                assert share.rebalance(force=True) == 2 and torch.get_num_threads() == 2
                assert not (tmp_path / "active" / f"c.{dead.pid}").exists()
            finally:
                other.kill()
                other.wait()
            assert share.rebalance(force=True) == 4  # the other run ended: its cores come back
            assert share.max_threads == 4
        assert not any((tmp_path / "active").iterdir())  # its own marker is gone
    finally:
        torch.set_num_threads(before)


def test_parallel_runs_record_their_thread_share(data_dir, tmp_path):  # noqa: F811
    import os

    records = run_specs(specs(data_dir), tmp_path, jobs=2, progress=False)
    cores = os.cpu_count()
    for r in records:
        assert r["threads"] == max(1, cores // 2) and max(1, cores // 2) <= r["threads_max"] <= cores
    fixed = run_specs(specs(data_dir), tmp_path / "fixed", jobs=2, progress=False, threads=1)
    assert all(r["threads"] == 1 and "threads_max" not in r for r in fixed)  # an explicit --threads stays fixed


def test_parallel_runs_print_their_epochs_as_they_go(data_dir, tmp_path, capfd, monkeypatch):  # noqa: F811
    """Loky workers write to the parent's stdout, but block-buffered when it is a pipe or a file:
    `bench run --jobs 2 | tee log` once got a run's epoch lines only when its worker exited."""
    from joblib.externals.loky import get_reusable_executor

    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # as in a plain shell (CI runners often set it)
    get_reusable_executor().shutdown(wait=True)  # the next workers start with this environment and this test's captured stdout
    run_specs(specs(data_dir), tmp_path, jobs=2, progress=True, threads=1)
    out = capfd.readouterr().out
    # the workers live on (loky keeps them for the next call): what is here was flushed as it came
    for name in ("gru4rec", "stamp"):
        assert f"  [{name} {data_dir} seed=0] epoch=1/1 loss=" in out
        assert f"] {name} {data_dir} seed=0: recall@10=" in out
    assert "[2/2] " in out
