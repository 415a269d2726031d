"""Run keys hash the resolved config and the method version, so a changed profile or default is a new run."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bench.data import build_dataset
from bench.methods import METHODS
from bench.runner import current_key, is_current, run_key, run_one
from bench.data.splits import leave_one_out, save_split
from bench.suites import RunSpec


@pytest.fixture(scope="module")
def toy_split():
    seqs = {"u1": ["1", "2", "1", "3", "2"], "u2": ["2", "3", "1", "5", "6"], "u3": ["3", "2", "4", "5"]}
    return leave_one_out(build_dataset("toy", seqs, {}, {}))


def spec(method: str, config: dict, name: str | None = None, seed: int = 0) -> RunSpec:
    return RunSpec(name or method, method, "toy", seed, config)


@pytest.mark.parametrize("method", ["laser", "lora", "full_ft", "prompt_tuning", "prefix_tuning"])
def test_changing_a_cpu_profile_value_changes_the_key(method, toy_split, monkeypatch):
    from bench.llm import config as engine_config  # the cpu profile's shared layer (Laser adds its own on top)

    before = run_key(spec(method, {"profile": "cpu"}), toy_split)
    monkeypatch.setitem(engine_config.PROFILES["cpu"], "batch_size", 8)
    assert run_key(spec(method, {"profile": "cpu"}), toy_split) != before


def test_changing_a_baselines_own_profile_value_changes_the_key(toy_split, monkeypatch):
    cls = METHODS.get("full_ft")
    before = run_key(spec("full_ft", {"profile": "cpu"}), toy_split)
    monkeypatch.setitem(cls.profiles, "cpu", {**cls.profiles["cpu"], "lr": 1e-4})
    assert run_key(spec("full_ft", {"profile": "cpu"}), toy_split) != before


def test_changing_a_recbole_setting_default_changes_the_key(toy_split, monkeypatch):
    from baselines.recbole import models as recbole_models

    before = run_key(spec("sasrec", {"max_seq_length": 20}), toy_split)

    @dataclasses.dataclass(frozen=True)
    class NewDefault(recbole_models.RecBoleSettings):
        learning_rate: float = 0.002

    monkeypatch.setattr(recbole_models, "RecBoleSettings", NewDefault)
    assert run_key(spec("sasrec", {"max_seq_length": 20}), toy_split) != before


def test_changing_a_recbole_model_default_changes_the_key(toy_split, monkeypatch):
    from baselines.recbole import models as recbole_models

    before = run_key(spec("sasrec", {}), toy_split)
    defaults = recbole_models.model_defaults
    monkeypatch.setattr(recbole_models, "model_defaults", lambda name: {**defaults(name), "hidden_size": 128})
    method = METHODS.get("sasrec")({})
    assert method.resolved_config()["model"]["hidden_size"] == 128
    assert run_key(spec("sasrec", {}), toy_split, method) != before


def test_bumping_a_method_version_changes_the_key(toy_split, monkeypatch):
    before = run_key(spec("pop", {}), toy_split)
    monkeypatch.setattr(METHODS.get("pop"), "version", 2)
    assert run_key(spec("pop", {}), toy_split) != before


def test_a_config_spelt_out_is_the_same_run_as_its_profile(toy_split):
    # the key is what runs, not how the suite wrote it
    assert run_key(spec("laser", {"profile": "cpu"}), toy_split) == run_key(spec("laser", {"profile": "cpu", "lr": 1e-3, "history": 3}), toy_split)
    assert run_key(spec("laser", {"profile": "cpu"}), toy_split) != run_key(spec("laser", {"profile": "cpu", "lr": 2e-3}), toy_split)
    assert run_key(spec("sasrec", {}), toy_split) == run_key(spec("sasrec", {"epochs": 200, "model": {"n_layers": 2}}), toy_split)


def test_a_record_is_current_until_its_profile_changes(toy_split, tmp_path, monkeypatch):
    from laser import config as laser_config

    s = spec("laser", {"profile": "cpu"})
    record = {"key": run_key(s, toy_split), "method": "laser", "config": s.config, "split_hash": toy_split.hash, "seed": 0}
    assert current_key(record) == record["key"] and is_current(record)
    monkeypatch.setitem(laser_config.PROFILES["cpu"], "history", 4)
    assert not is_current(record)
    # a config that no longer builds (a key removed from the method) is stale, not an error
    assert current_key({**record, "config": {"profile": "cpu", "no_such_key": 1}}) is None
    assert current_key({**record, "method": "no_such_method"}) is None


def test_a_record_stores_its_resolved_config_and_method_version(toy_split, tmp_path):
    save_split(tmp_path, toy_split)
    status, record = run_one(spec("pop", {}), toy_split, tmp_path, threads=1, force=False, progress=False)
    assert status == "done" and record["status"] == "ok"
    assert record["resolved_config"] == {} and record["method_version"] == 1 and record["format"] == 2
    assert record["config"] == {}
    assert record["key"] == current_key(record)
    stored = json.loads(next((tmp_path / "runs" / "toy").glob("pop-*.json")).read_text())
    assert is_current(stored)
    sasrec = METHODS.get("sasrec")({"max_seq_length": 20})
    resolved = sasrec.resolved_config()
    assert resolved["max_seq_length"] == 20 and resolved["epochs"] == 200 and resolved["model"]["n_layers"] == 2
    laser = METHODS.get("laser")({"profile": "cpu"})
    assert laser.resolved_config()["lr"] == 1e-3 and laser.resolved_config()["history"] == 3


def test_id_baseline_settings_are_written_once_and_laser_encoder_uses_them():
    from bench.suites import expand, load_suite
    from laser.config import ID_ENCODER_CPU

    shared = load_suite("main").family_defaults["ID-based"]
    assert shared == ID_ENCODER_CPU  # the frozen encoder of Laser's cpu profile trains as the ID baselines do
    for suite in ("main", "id_all"):
        from bench.methods import METHODS

        for spec in expand(load_suite(suite)):
            if METHODS.get(spec.method).family == "ID-based":
                assert spec.config == shared, spec.name


def test_an_ablations_full_run_is_the_main_suites_laser_run(toy_split):
    """`bench ablate`'s `full` variant must be the main table's Laser run (same key, same record
    file), or every component would retrain Laser and compare against a run no table shows."""
    from pathlib import Path

    from bench.ablations import ablation_specs, components
    from bench.results import iter_records, record_path
    from bench.runner import method_key
    from bench.suites import expand, load_suite

    main = {s.seed: s for s in expand(load_suite("main")) if s.method == "laser"}
    committed = {r["seed"]: r for _, r in iter_records(Path(__file__).resolve().parents[1] / "results") if r["name"] == "laser" and r["config"] == main[0].config}
    assert sorted(committed) == sorted(main) == [0, 1, 2]
    for component in components():
        specs = ablation_specs(component, "ml-100k", sorted(main))
        full = [s for s in specs if s.tags["variant"] == "full"]
        assert [s.seed for s in full] == sorted(main), component
        for s in full:
            ours = main[s.seed]
            assert run_key(s, toy_split) == run_key(ours, toy_split), component
            assert record_path(Path("r"), s.dataset, s.name, "k") == record_path(Path("r"), ours.dataset, ours.name, "k")
            record = committed[s.seed]  # the committed main-table record is the one the ablation reads
            assert method_key("laser", METHODS.get("laser")(s.config), record["split_hash"], s.seed) == record["key"], component
        variants = {run_key(s, toy_split) for s in specs if s.tags["variant"] != "full"}
        assert not variants & {run_key(s, toy_split) for s in full}, component


def test_ablate_variants_runs_the_named_variants_of_the_component_and_no_other():
    from bench.ablations import ablation_specs, variants

    table = variants("experts", "cpu")
    specs = ablation_specs("experts", "ml-100k", [0, 1], only=["K8_L4", "full"])
    assert sorted({s.tags["variant"] for s in specs}) == ["K8_L4", "full"]
    assert len(specs) == 4
    k8 = [s for s in specs if s.tags["variant"] == "K8_L4"]
    assert all(s.config["experts"] == 8 and s.config["queries"] == 4 for s in k8)
    assert specs == [s for s in ablation_specs("experts", "ml-100k", [0, 1]) if s.tags["variant"] in ("K8_L4", "full")]
    assert len(ablation_specs("experts", "ml-100k", [0])) == len(table)
