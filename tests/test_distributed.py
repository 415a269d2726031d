"""Under accelerate with two CPU processes (gloo): Laser's training loop keeps the weights
identical, and `bench run` takes a peft-like suite with MostPop in it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import torch

from tests.subprocess_env import with_pythonpath

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
    env = with_pythonpath(ROOT, OMP_NUM_THREADS="1")
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


def test_preflight_reads_the_declared_capability_so_the_peft_suite_passes_and_main_does_not():
    import pytest

    from bench.errors import UserError
    from bench.methods import METHODS
    from bench.preflight import check_runs
    from bench.suites import expand, load_suite

    # the README's `accelerate launch ... run --suite peft`: pop, in the suite, trains nothing
    check_runs(expand(load_suite("peft")), world=2)
    # main's RecBole rows train in one process; every one of them says so
    recbole = sorted(n for n in load_suite("main").methods if not METHODS.get(n).distributed)
    assert recbole and "pop" not in recbole and not any(METHODS.get(n).llm_backbone for n in recbole)
    with pytest.raises(UserError, match="trains in one process"):
        check_runs(expand(load_suite("main")), world=2)


def test_a_peft_suite_with_pop_runs_under_two_gloo_processes(ml100k, tmp_path):
    """`bench run` under torchrun, two CPU processes over gloo, on a small peft-like suite:
    two peft baselines on a tiny saved Llama, and MostPop, which runs in both processes. One
    record per run, written by the main process; pop's metrics are what one process gets."""
    import json

    import bench
    from bench.data.datasets import load_dataset
    from bench.data.splits import leave_one_out
    from bench.methods import METHODS
    from bench.runner import evaluate
    from tests.conftest import slice_dataset
    from tests.laser_fixtures import tiny_llm_folder
    from tests.test_cli_runs import write_atomic

    data = write_atomic(slice_dataset(ml100k, 24, max_len=10), tmp_path / "data" / "ml-tiny")
    dataset = load_dataset(str(data))
    llm = tiny_llm_folder(dataset.item_text[1:], tmp_path / "tiny-llama")
    engine = (
        f"profile: cpu, llm: {llm}, llm_layers: null, dtype: fp32, autocast: 'off', history: 4, batch_size: 4,"
        " phase1_epochs: 1, phase2_epochs: 0, validate_init: false, eval_batch_size: 64"
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"datasets: [{data}]\nseeds: [0]\nmethods:\n  lora: {{{engine}}}\n  prompt_tuning: {{{engine}}}\n  pop: {{}}\n")
    results = tmp_path / "results"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
        "-m", "bench.cli", "--results", str(results), "run", "--suite", str(suite), "--threads", "1", "--quiet",
    ]
    # the processes import the bench this test imported (the checkout, or the installed package under tox)
    env = with_pythonpath(Path(bench.__file__).resolve().parents[1], OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (results / "runs").rglob("*.json")]
    assert sorted(r["method"] for r in records) == ["lora", "pop", "prompt_tuning"]  # the helper process wrote none
    by_method = {r["method"]: r for r in records}
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    for name in ("lora", "prompt_tuning"):
        trained = [e for e in by_method[name]["training"]["curve"] if e["phase"] != "init"]
        # 24 users, one sampled row each, batch 4: 6 batches, 3 per process
        assert [(e["processes"], e["examples"]) for e in trained] == [(2, 12)]
    split = leave_one_out(dataset)
    pop = METHODS.get("pop")({})
    pop.fit(split, None)
    assert by_method["pop"]["split_hash"] == split.hash
    assert by_method["pop"]["metrics"]["test"] == evaluate(pop, split, "test")[1]
