"""`bench run` end to end through the CLI on a real ml-100k slice written as an atomic dataset."""

from __future__ import annotations

import json
import time
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
    assert "gru4rec" in out and "recall@10" in out
    start = time.perf_counter()
    assert main(["--results", str(results), "run", "--suite", str(suite), "--quiet"]) == 0
    assert time.perf_counter() - start < 30  # skipped: nothing retrained
    assert json.loads(records[0].read_text())["finished"] == r["finished"]


@pytest.mark.slow
def test_laser_on_real_smollm2_end_to_end(ml100k, tmp_path):
    """The real SmolLM2-135M default through `bench run`, on a few users, one short epoch."""
    tiny_dir = write_atomic(slice_dataset(ml100k, 24, max_len=10), tmp_path / "data" / "ml-tiny")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"datasets: [{tiny_dir}]\nseeds: [0]\nmethods:\n"
        "  laser: {profile: cpu, stage1_epochs: 1, stage2_epochs: 1,"
        " id_encoder_config: {epochs: 1, max_seq_length: 10}}\n"
    )
    results = tmp_path / "results"
    assert main(["--results", str(results), "run", "--suite", str(suite), "--quiet"]) == 0
    (path,) = list((results / "runs").rglob("*.json"))
    r = json.loads(path.read_text())
    assert r["status"] == "ok", r.get("error")
    assert r["family"] == "Laser"
    # SmolLM2-135M: 134.5M frozen parameters; virtual tokens (4 prefix + 1 suffix) x 576
    assert r["parameters"]["llm_side_trainable"] == 5 * 576
    assert 130e6 < r["parameters"]["total"] - r["parameters"]["trainable"] < 140e6
    assert r["training"]["epochs"] == 2 and r["training"]["curve"][0]["stage"] == "stage1"
    assert 0 < r["metrics"]["test"]["mrr"] <= 1
    assert r["analysis"]["expert_usage"]
