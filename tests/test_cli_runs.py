"""`bench run` end to end through the CLI on a real ml-100k slice written as an atomic dataset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.cli import main
from tests.conftest import slice_dataset


def write_atomic(dataset, folder: Path) -> Path:
    """A dataset in RecBole's atomic format (the slice is written to a temp dir, never committed)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = folder.name
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user, seq in zip(dataset.user_ids, dataset.sequences):
        lines += [f"{user}\t{dataset.item_ids[i - 1]}\t{t}" for t, i in enumerate(seq)]
    (folder / f"{name}.inter").write_text("\n".join(lines) + "\n")
    items = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    for i, tok in enumerate(dataset.item_ids, 1):
        a = dataset.item_attributes[i]
        title = dataset.item_text[i].split(" (")[0]
        items.append(f"{tok}\t{title}\t{a.get('year', '')}\t{a.get('genres', '').replace(', ', ' ')}")
    (folder / f"{name}.item").write_text("\n".join(items) + "\n")
    return folder


@pytest.fixture(scope="module")
def small_dir(ml100k, tmp_path_factory):
    return write_atomic(slice_dataset(ml100k, 80, max_len=30), tmp_path_factory.mktemp("data") / "ml-slice")


def test_run_writes_records_with_provenance_and_rerun_skips(small_dir, tmp_path, capsys):
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"datasets: [{small_dir}]\nseeds: [0]\nmethods:\n  gru4rec: {{epochs: 2, max_seq_length: 10}}\n")
    results = tmp_path / "results"
    assert main(["--results", str(results), "run", "--suite", str(suite), "--quiet"]) == 0
    records = list((results / "runs").rglob("*.json"))
    assert len(records) == 1
    r = json.loads(records[0].read_text())
    assert r["status"] == "ok" and r["method"] == "gru4rec" and r["seed"] == 0
    assert len(r["ranks"]["test"]) == r["n_users"] == 80
    assert set(r["metrics"]["test"]) == {"recall@5", "ndcg@5", "recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr"}
    for key in ("split_hash", "data_hash", "versions", "git_commit", "timings", "memory", "parameters", "config"):
        assert key in r, key
    assert r["parameters"]["trainable"] == r["parameters"]["total"] > 0
    assert r["training"]["epochs"] == 2
    # the split every method read was saved beside the records
    assert (results / "splits" / f"ml-slice-{r['split_hash']}" / "split.json").exists()
    out = capsys.readouterr().out
    # it ends with the suite's table, as the report draws it, and how the runs ended
    assert "Main results (paper Table 2 layout)" in out and re.search(r"ID-based\s+gru4rec\s+yes\s+0\.\d{4}", out)
    assert "1 run: 0 reused (finished records); 1 trained." in out
    assert f"`bench report --suite {suite} --results {results}` writes" in out
    assert "time_s" not in out  # per-seed rows only when asked
    from baselines.recbole.models import RecBoleMethod

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    with pytest.MonkeyPatch.context() as m:  # skipped: nothing retrained (timings belong to `bench perf`)
        m.setattr(RecBoleMethod, "fit", refuse)
        # --results after the subcommand too
        assert main(["run", "--suite", str(suite), "--quiet", "--per-seed", "--results", str(results)]) == 0
    assert json.loads(records[0].read_text())["finished"] == r["finished"]
    out = capsys.readouterr().out
    assert "1 run: 1 reused (finished records); 0 trained." in out
    assert re.search(r"gru4rec\s+\S*ml-slice\s+0\s+0\.\d{4}", out) and "time_s" in out  # --per-seed


@pytest.mark.slow
def test_laser_on_real_smollm2_end_to_end(ml100k, tmp_path):
    """The real SmolLM2-135M default through `bench run`, on a few users, one short epoch."""
    tiny_dir = write_atomic(slice_dataset(ml100k, 24, max_len=10), tmp_path / "data" / "ml-tiny")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"datasets: [{tiny_dir}]\nseeds: [0]\nmethods:\n"
        "  laser: {profile: cpu, phase1_epochs: 1, phase2_epochs: 1,"
        " id_encoder_config: {epochs: 1, max_seq_length: 10}}\n"
    )
    results = tmp_path / "results"
    # not --quiet: under `pytest -m slow -s` (tox.ini) its progress shows what the test is doing
    assert main(["--results", str(results), "run", "--suite", str(suite)]) == 0
    (path,) = list((results / "runs").rglob("*.json"))
    r = json.loads(path.read_text())
    assert r["status"] == "ok", r.get("error")
    assert r["family"] == "Laser"
    # virtual tokens (4 prefix + 1 suffix) x 576; frozen: the cpu profile keeps 15 of SmolLM2-135M's
    # 30 layers, i.e. its 28.3M embeddings + 15 x 3.54M (the whole model: 134.5M)
    assert r["parameters"]["llm_side_trainable"] == 5 * 576
    assert r["resolved_config"]["llm_layers"] == 15
    assert 80e6 < r["parameters"]["total"] - r["parameters"]["trainable"] < 83e6
    # the cpu profile validates the untrained model first: the curve starts at 0 examples
    assert r["training"]["epochs"] == 2 and [e["phase"] for e in r["training"]["curve"]] == ["init", "phase1", "phase2"]
    assert r["training"]["curve"][0]["examples_seen"] == 0 and r["training"]["curve"][-1]["examples_seen"] > 0
    assert 0 < r["metrics"]["test"]["mrr"] <= 1
    assert r["analysis"]["expert_usage"]


@pytest.mark.slow
def test_lora_on_real_smollm2_under_a_two_process_launch(ml100k, tmp_path):
    """The README's CPU launch: torchrun, two processes over gloo, through `bench run`; one record."""
    import os
    import subprocess
    import sys

    from tests.test_distributed import ROOT, free_port

    tiny_dir = write_atomic(slice_dataset(ml100k, 24, max_len=10), tmp_path / "data" / "ml-tiny")
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"datasets: [{tiny_dir}]\nseeds: [0]\nmethods:\n  lora: {{profile: cpu, batch_size: 4, phase1_epochs: 1, phase2_epochs: 1}}\n")
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "bench.cli", "--results", str(results), "run", "--suite", str(suite), "--quiet"]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = list((results / "runs").rglob("*.json"))
    r = json.loads(path.read_text())
    assert r["status"] == "ok", r.get("error")
    trained = [e for e in r["training"]["curve"] if e["phase"] != "init"]
    assert [e["processes"] for e in trained] == [2, 2]
    # 24 users, one row each, batch 4: 6 batches, 3 per process
    assert [e["examples"] for e in trained] == [12, 12]


@pytest.mark.slow
def test_bench_perf_measures_the_llm_baselines(tmp_path):
    out = tmp_path / "perf.csv"
    assert main(["--results", str(tmp_path / "results"), "perf", "--methods", "lora", "full_ft", "--steps", "1", "--batch", "2", "--out", str(out)]) == 0
    summary = json.loads(out.with_suffix(".json").read_text())["summary"]
    rows = {r["method"]: r for r in json.loads(out.with_suffix(".json").read_text())["rows"]}
    assert set(rows) == {"lora", "full_ft"} and all("error" not in r for r in rows.values())
    assert rows["full_ft"]["trainable"] > 100 * rows["lora"]["trainable"]
    assert all(r["examples_per_s"] > 0 and r["tokens_per_s"] > 0 and r["peak_rss_mb"] > 0 for r in rows.values())
    assert summary["gemm_bf16_gflops"] > 0 and "laser/lora examples_per_s" not in summary  # no laser row, no ratio
    assert all(r["attention"] == "eager" for r in rows.values())  # the CPU default kernel, recorded
    # each step against the peak of the arithmetic it ran (fp32 on a host without bf16 instructions)
    assert {r["arithmetic"] for r in rows.values()} <= {"fp32", "bf16"} and all(r["pct_of_peak"] > 0 for r in rows.values())
    provenance = json.loads(out.with_suffix(".json").read_text())["provenance"]
    assert provenance["versions"]["torch"] and provenance["date"] and "cpus" in provenance["host"]
    assert provenance["host"]["cpu_capability"]
