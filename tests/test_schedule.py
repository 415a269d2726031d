"""`bench run --jobs N` hands joblib the longest expected runs first (bench/schedule.py)."""

from __future__ import annotations

from bench.results import record_path, write_record
from bench.schedule import DEFAULT_MINUTES, expected_minutes
from bench.suites import RunSpec
from tests.test_reliability import data_dir  # noqa: F401  (fixture)

ID = {"epochs": 1, "max_seq_length": 10}


def fake_record(results, spec: RunSpec, seconds: float, key: str, status: str = "ok", seed: int = 1, probe_s: float | None = None) -> None:
    timings = {"total_s": seconds} | ({"probe_s": probe_s} if probe_s is not None else {})
    record = {"key": key, "status": status, "name": spec.name, "method": spec.method, "dataset": spec.dataset, "seed": seed,
              "config": spec.config, "resolved_config": dict(spec.config), "timings": timings}
    write_record(record_path(results, spec.dataset, spec.name, key), record)


def test_an_estimate_comes_from_the_runs_own_records_then_its_methods_then_a_family_default():
    spec = RunSpec("laser/no_moe", "laser", "ml-100k", 0, {"profile": "cpu"})
    times = {
        ("laser", "cpu", "laser/no_moe", "ml-100k"): [600.0, 1200.0, 900.0],
        ("laser", "cpu", "laser", "ml-100k"): [3600.0],
        ("laser", "paper", "laser/no_moe", "ml-100k"): [99999.0],  # another profile: not this run's size
    }
    assert expected_minutes(spec, times, "Laser", "cpu") == (15.0, "records of this run (3)")
    other = RunSpec("laser/no_mformer", "laser", "ml-100k", 0, {"profile": "cpu"})
    assert expected_minutes(other, times, "Laser", "cpu")[0] == 17.5  # the median over every cpu laser run: 1050 s
    assert expected_minutes(other, {}, "Laser", "cpu") == (DEFAULT_MINUTES["Laser"], "default for Laser")


def test_a_runs_expected_time_counts_the_probes_it_runs_after_evaluating(tmp_path):
    from bench.schedule import longest_first

    results = tmp_path / "results"
    probed, plain = RunSpec("sasrec", "sasrec", "ml-100k", 0, ID), RunSpec("caser", "caser", "ml-100k", 0, ID)
    fake_record(results, probed, 600, "a", probe_s=900)  # 25 minutes in all
    fake_record(results, plain, 1000, "b")
    assert longest_first([plain, probed], results) == [1, 0]


def test_the_order_given_to_joblib_is_longest_first_from_records(data_dir, tmp_path, monkeypatch):  # noqa: F811
    import joblib

    from bench import runner
    from bench.runner import prepare_split, run_key, run_specs

    results = tmp_path / "results"
    d = str(data_dir)
    specs = [
        RunSpec("pop", "pop", d, 0, {}),
        RunSpec("gru4rec", "gru4rec", d, 0, ID),
        RunSpec("sasrec", "sasrec", d, 0, ID),
        RunSpec("caser", "caser", d, 0, ID),
        RunSpec("stamp", "stamp", d, 0, ID),
    ]
    by = {s.name: s for s in specs}
    fake_record(results, by["sasrec"], 900, "a")
    fake_record(results, by["sasrec"], 700, "b", seed=2)  # median of the two: 800 s
    fake_record(results, by["caser"], 300, "c")
    fake_record(results, by["stamp"], 5000, "d", status="failed")  # a failed run says nothing of the length
    # gru4rec is finished at its own key: only read back, so last, whatever its record took
    fake_record(results, by["gru4rec"], 4000, run_key(by["gru4rec"], prepare_split(d, results)), seed=0)
    given: list[int] = []

    class InOrderGiven:
        def __init__(self, return_as=None, **kwargs) -> None:
            assert return_as == "generator_unordered"  # each run is reported as it ends

        def __call__(self, tasks):
            tasks = list(tasks)
            given.extend(args[0] for _, args, _ in tasks)
            return iter([fn(*args, **kwargs) for fn, args, kwargs in reversed(tasks)])  # ends in another order

    monkeypatch.setattr(joblib, "Parallel", InOrderGiven)
    monkeypatch.setattr(runner, "_run_in_worker", lambda i, spec, *rest: (i, "skipped", {"name": spec.name, "status": "ok"}))
    from collections import Counter

    tally: Counter = Counter()
    records = run_specs(specs, results, jobs=2, progress=False, threads=1, tally=tally)
    # stamp has only a failed record: the ID-based default (6 min) puts it between sasrec and caser
    assert [specs[i].name for i in given] == ["sasrec", "stamp", "caser", "pop", "gru4rec"]
    assert [r["name"] for r in records] == [s.name for s in specs]  # reported back in suite order
    assert tally == Counter(skipped=5)
