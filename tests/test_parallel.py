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


def test_sharing_runs_leave_a_fixed_thread_run_its_cores(tmp_path):
    """A run with an explicit --threads keeps its count and writes it in its marker; the sharing
    runs divide only the cores it leaves (2 + 1 threads on 2 cores before the marker said so)."""
    import subprocess
    import sys

    import torch

    from bench.threads import CoreShare

    before = torch.get_num_threads()
    others = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)]
    try:
        torch.set_num_threads(2)
        with CoreShare(tmp_path, "fixed", cores=4, fixed_threads=1) as fixed:
            assert fixed.marker.read_text() == "1"
            assert fixed.rebalance(force=True) == 2 and torch.get_num_threads() == 2  # a fixed run keeps its own count
            (tmp_path / "active" / f"held.{others[0].pid}").write_text("1")  # a second fixed run, alive
            with CoreShare(tmp_path, "shared", cores=4, interval_s=600) as share:
                assert share.marker.read_text() == ""
                assert torch.get_num_threads() == 2  # 4 cores, 2 held by the fixed runs, 1 sharing run
                (tmp_path / "active" / f"other.{others[1].pid}").touch()  # a second sharing run
                assert share.rebalance(force=True) == 1
                others[0].kill()
                others[0].wait()
                assert share.rebalance(force=True) == 1  # (4 - 1) // 2
            assert not share.marker.exists()
        assert not fixed.marker.exists()
    finally:
        for other in others:
            other.kill()
            other.wait()
        torch.set_num_threads(before)


@pytest.mark.parametrize("threads, marker", [(1, "1"), (None, "")])
def test_a_run_announces_its_threads_while_it_trains(data_dir, tmp_path, monkeypatch, threads, marker):  # noqa: F811
    """run_specs with --threads leaves a marker holding that count for the length of the run; a
    sharing run leaves an empty one; both are gone when it ends."""
    from baselines.pop import MostPop

    seen = []
    fit = MostPop.fit

    def looking_fit(self, split, ctx):
        seen.extend(path.read_text() for path in (tmp_path / "active").iterdir())
        return fit(self, split, ctx)

    monkeypatch.setattr(MostPop, "fit", looking_fit)
    (record,) = run_specs([RunSpec("pop", "pop", str(data_dir), 0, {})], tmp_path, progress=False, threads=threads)
    assert record["status"] == "ok" and seen == [marker]
    assert not any((tmp_path / "active").iterdir())


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
