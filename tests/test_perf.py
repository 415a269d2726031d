"""`bench perf`'s measuring pieces produce real, positive numbers (no timing targets here)."""

from bench.perf import eval_throughput, gemm_peak


def test_gemm_peak_and_eval_throughput_are_measured():
    peak = gemm_peak(n=128, repeats=2)
    assert set(peak) == {"gemm_fp32_gflops", "gemm_bf16_gflops"}
    assert all(v > 0 for v in peak.values())
    assert eval_throughput(n_users=50, n_items=300) > 0


def test_perf_names_an_ablation_variant_as_method_colon_variant():
    import pytest

    from bench.errors import UserError
    from bench.perf import method_and_overrides

    assert method_and_overrides("laser", "cpu") == ("laser", {})
    assert method_and_overrides("laser:suffix_only", "cpu") == ("laser", {"prefix": "none"})
    with pytest.raises(UserError, match="did you mean: suffix_only"):
        method_and_overrides("laser:sufix_only", "cpu")


def test_a_sitting_where_a_method_failed_leaves_the_earlier_table(tmp_path, monkeypatch, capsys):
    import bench.perf
    import bench.runner

    def measure(name, *args):
        if name == "lora":
            return {"method": name, "error": "RuntimeError: out of memory"}
        return {"method": name, "examples_per_s": 1.0, "achieved_gflops": 1.0, "peak_rss_mb": 1.0, "arithmetic": "fp32"}

    monkeypatch.setattr(bench.runner, "prepare_split", lambda *a, **k: None)
    monkeypatch.setattr(bench.perf, "measure_in_a_process", measure)
    monkeypatch.setattr(bench.perf, "gemm_peak", lambda **k: {"gemm_fp32_gflops": 10.0, "gemm_bf16_gflops": 10.0})
    out = tmp_path / "perf.csv"
    out.write_text("committed\n")
    rows = bench.perf.run_perf(("laser", "lora"), steps=1, batch=2, results=str(tmp_path / "results"), out=out)
    assert [r["method"] for r in rows] == ["laser", "lora"] and "error" in rows[1]
    assert out.read_text() == "committed\n" and not out.with_suffix(".json").exists()
    assert f"{out} not written: 1 of 2 methods failed (lora: RuntimeError: out of memory)" in capsys.readouterr().out


def test_accuracy_per_cpu_minute_reads_current_main_records_only(tmp_path):
    from bench.perf import accuracy_per_minute
    from bench.results import record_path, write_record
    from bench.runner import current_key

    def record(method, seed, valid, fit_s, threads, **extra):
        rec = {"method": method, "config": {"profile": "cpu"}, "split_hash": "s", "seed": seed, "dataset": "ml-100k", "status": "ok",
               "metrics": {"valid": {"ndcg@10": valid}}, "timings": {"fit_s": fit_s}, "threads": threads, "resolved_config": {"profile": "cpu"}, **extra}
        rec["key"] = rec.pop("key", None) or current_key(rec)
        write_record(record_path(tmp_path, "ml-100k", f"{method}-{seed}-{len(extra)}", rec["key"]), rec)

    record("laser", 0, 0.04, 600, 2)  # 20 CPU-minutes
    record("laser", 1, 0.02, 1200, 1)  # 20 CPU-minutes
    record("lora", 0, 0.01, 300, 2)
    record("lora", 1, 0.5, 60, 1, key="stale")  # config or code changed since: left out
    record("lora", 2, 0.5, 60, 1, tags={"component": "prefix", "variant": "full"})  # an ablation run
    record("lora", 3, 0.5, 60, 1, split_settings={"drop_short_users": False, "k_core": 0, "train_fraction": 0.05, "train_fraction_seed": 0})  # a few-shot run
    out = accuracy_per_minute(tmp_path, ["laser", "lora", "full_ft"], "cpu")
    assert out == {
        "laser": {"valid_ndcg@10": 0.03, "train_cpu_min": 20.0, "valid_ndcg@10_per_cpu_min": 0.0015, "seeds": 2},
        "lora": {"valid_ndcg@10": 0.01, "train_cpu_min": 10.0, "valid_ndcg@10_per_cpu_min": 0.001, "seeds": 1},
    }


def test_accuracy_only_rereads_the_committed_sitting_from_the_committed_records(tmp_path, capsys):
    """`bench perf --accuracy-only` on a copy of the committed sitting: the accuracy columns and
    their ratios become what the committed records give now; every measured column stays."""
    import json
    import shutil
    from pathlib import Path

    from bench.cli import main
    from bench.perf import ACCURACY_COLUMNS, accuracy_per_minute

    root = Path(__file__).resolve().parent.parent
    for suffix in (".csv", ".json"):
        shutil.copy(root / "reports" / f"perf{suffix}", tmp_path / f"perf{suffix}")
    before = json.loads((tmp_path / "perf.json").read_text())
    for row in before["rows"]:  # stale values, as after new runs land
        row.update({column: 1.0 for column in ACCURACY_COLUMNS})
    (tmp_path / "perf.json").write_text(json.dumps(before))

    assert main(["--results", str(root / "results"), "perf", "--accuracy-only", "--out", str(tmp_path / "perf.csv")]) == 0
    after = json.loads((tmp_path / "perf.json").read_text())
    expected = accuracy_per_minute(root / "results", ["laser", "lora", "full_ft"], after["summary"]["profile"])
    assert {"laser", "lora", "full_ft"} <= set(expected)
    for old, new in zip(before["rows"], after["rows"]):
        assert {k: v for k, v in new.items() if k not in ACCURACY_COLUMNS} == {k: v for k, v in old.items() if k not in ACCURACY_COLUMNS}
        assert {k: new[k] for k in ACCURACY_COLUMNS if k in new} == expected.get(new["method"], {})
    laser = expected["laser"]["valid_ndcg@10_per_cpu_min"]
    assert after["summary"]["laser/lora valid_ndcg@10_per_cpu_min"] == round(laser / expected["lora"]["valid_ndcg@10_per_cpu_min"], 2)
    assert after["summary"]["laser/lora examples_per_s"] == before["summary"]["laser/lora examples_per_s"]
    assert after["provenance"]["git_commit"] == before["provenance"]["git_commit"] and "accuracy_refreshed" in after["provenance"]
    assert "valid_ndcg@10_per_cpu_min" in (tmp_path / "perf.csv").read_text().splitlines()[0]


def test_accuracy_only_without_an_earlier_sitting_says_so(tmp_path, capsys):
    from bench.cli import main

    assert main(["--results", str(tmp_path), "perf", "--accuracy-only", "--out", str(tmp_path / "perf.csv")]) == 2
    assert f"no earlier sitting at {tmp_path / 'perf.json'}: run `bench perf` first" in capsys.readouterr().err
    assert main(["--results", str(tmp_path), "perf", "--accuracy-only", "--methods", "laser", "--out", str(tmp_path / "perf.csv")]) == 2
    assert "drop --methods" in capsys.readouterr().err


def test_a_step_is_measured_against_the_peak_of_the_arithmetic_it_ran(tmp_path, monkeypatch):
    """On a host without bf16 instructions bf16 is emulated far below fp32: an fp32 step read
    against that "peak" came out at 3000%."""
    import json

    import bench.perf
    import bench.runner

    def measure(name, *args):
        return {"method": name, "examples_per_s": 1.0, "achieved_gflops": 20.0, "peak_rss_mb": 1.0, "arithmetic": {"laser": "fp32", "lora": "bf16"}[name]}

    monkeypatch.setattr(bench.runner, "prepare_split", lambda *a, **k: None)
    monkeypatch.setattr(bench.perf, "measure_in_a_process", measure)
    monkeypatch.setattr(bench.perf, "gemm_peak", lambda **k: {"gemm_fp32_gflops": 40.0, "gemm_bf16_gflops": 0.5})
    monkeypatch.setattr(bench.perf, "eval_throughput", lambda: 1.0)
    out = tmp_path / "perf.csv"
    rows = bench.perf.run_perf(("laser", "lora"), steps=1, batch=2, results=str(tmp_path / "results"), out=out)
    assert {r["method"]: r["pct_of_peak"] for r in rows} == {"laser": 50.0, "lora": 4000.0}
    assert [r["arithmetic"] for r in json.loads(out.with_suffix(".json").read_text())["rows"]] == ["fp32", "bf16"]
