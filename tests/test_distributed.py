"""Laser's training loop under accelerate with two CPU processes (gloo): weights stay identical."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_train_disjoint_shards_and_end_with_identical_weights(split, results, tmp_path):
    from tests.test_laser import make

    method, ctx = make(split, results, tmp_path)
    method._encoder(split, ctx)  # the frozen BERT4Rec, cached once for both processes
    out = tmp_path / "out"
    out.mkdir()
    # torchrun is the launcher for several CPU processes (accelerate launch's multi-CPU mode wants MPI);
    # accelerate inside the loop sees LOCAL_RANK and sets up DDP over gloo
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
        str(ROOT / "tests" / "distributed_worker.py"), str(results), str(out),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["backend"].endswith("MULTI_CPU")
    # each process saw half of each epoch's batches (60 users, batch 8: 8 batches -> 4 each)
    assert ranks[0]["examples"] and all(e > 0 for r in ranks for e in r["examples"])
    assert all(a + b <= 60 for a, b in zip(ranks[0]["examples"], ranks[1]["examples"]))
    w0, w1 = ranks[0]["weights"], ranks[1]["weights"]
    assert w0.keys() == w1.keys() and len(w0) > 0
    for name in w0:
        assert torch.equal(w0[name], w1[name]), name


def test_a_distributed_launch_refuses_single_process_methods_and_parallel_jobs(monkeypatch, tmp_path):
    import pytest

    from bench.errors import UserError
    from bench.runner import run_specs
    from bench.suites import RunSpec

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(UserError, match="sasrec trains in one process"):
        run_specs([RunSpec("sasrec", "sasrec", "ml-100k", 0, {})], tmp_path)
    with pytest.raises(UserError, match="--jobs"):
        run_specs([RunSpec("laser", "laser", "ml-100k", 0, {})], tmp_path, jobs=2)
