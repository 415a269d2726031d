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
