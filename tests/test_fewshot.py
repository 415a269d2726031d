"""Few-shot splits (`split: {train_fraction: f}`): every method fits on one seeded subset of the
users, Laser's frozen encoder and M-Former pre-training included; validation and test keep every
user. Real ml-100k slices; each consumer is checked on what it actually trained on, so a consumer
that reads every user's training sequence fails here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.configs import content_hash, from_mapping
from bench.data.splits import (
    SplitSettings,
    draw_training_users,
    leave_one_out,
    load_saved_split,
    n_training_users,
    save_split,
    split_dir,
    train_item_counts,
)
from bench.errors import UserError
from bench.methods import METHODS, FitContext
from tests.conftest import slice_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(ml100k):
    return slice_dataset(ml100k, 60, max_len=25)


@pytest.fixture(scope="module")
def few(data):
    """12 of the 60 users train (0.2 x 60)."""
    return leave_one_out(data, SplitSettings(train_fraction=0.2))


def outsiders(split) -> list[int]:
    return sorted(set(range(split.n_users)) - set(split.train_users))


def user_ids(split, rows) -> set[str]:
    return {split.dataset.user_ids[split.user_index[r]] for r in rows}


def prefix_rows(sequences) -> set[tuple[tuple[int, ...], int]]:
    return {(tuple(s[:j]), s[j]) for s in sequences for j in range(1, len(s))}


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("value", [0, 0.0, -0.1, 1.5, float("nan"), float("inf"), True, "0.05", None])
def test_train_fraction_outside_0_1_is_refused(value):
    with pytest.raises(UserError, match="train_fraction"):
        SplitSettings(train_fraction=value)


def test_split_settings_from_a_suite_name_the_bad_key():
    with pytest.raises(UserError, match=r"split settings: split setting train_fraction must be a number in \(0, 1\]"):
        from_mapping(SplitSettings, {"train_fraction": 0}, "split settings")
    with pytest.raises(UserError, match="train_fraction must be a number, got '0.05'"):
        from_mapping(SplitSettings, {"train_fraction": "0.05"}, "split settings")
    with pytest.raises(UserError, match="train_fraction_seed must be a non-negative integer"):
        SplitSettings(train_fraction=0.5, train_fraction_seed=-1)
    with pytest.raises(UserError, match="unknown key 'train_fracton'"):
        from_mapping(SplitSettings, {"train_fracton": 0.05}, "split settings")
    assert SplitSettings(train_fraction=1).train_fraction == 1.0 and isinstance(SplitSettings(train_fraction=1).train_fraction, float)


def test_a_suite_with_a_bad_fraction_fails_when_loaded(tmp_path):
    from bench.suites import load_suite

    path = tmp_path / "bad.yaml"
    path.write_text("include: " + str(ROOT / "bench" / "suite_files" / "main.yaml") + "\nsplit: {train_fraction: 1.2}\n")
    with pytest.raises(UserError, match=r"bad.yaml: split settings: split setting train_fraction must be a number in \(0, 1\] \(the share of users trained on, e.g. 0.05\), got 1.2"):
        load_suite(str(path))


# ---------------------------------------------------------------- the subset


@pytest.mark.parametrize("n, fraction, expected", [(60, 0.2, 12), (120, 0.05, 6), (943, 0.05, 47), (943, 0.2, 189), (30, 0.05, 2), (10, 0.05, 1), (10, 0.001, 1), (5, 0.999, 5)])
def test_size_is_fraction_times_users_halves_up_at_least_one(n, fraction, expected):
    # 30 x 0.05 = 1.5 -> 2 (a half rounds up); 10 x 0.05 = 0.5 -> 1; 10 x 0.001 -> 1 (never none)
    assert n_training_users(n, fraction) == expected
    assert len(draw_training_users(n, fraction, 0)) == expected


def test_subset_is_deterministic_seeded_and_nested(data, few):
    again = leave_one_out(data, SplitSettings(train_fraction=0.2))
    assert few.train_users == again.train_users and few.n_train_users == 12 and few.n_users == 60
    assert list(few.train_users) == sorted(set(few.train_users))
    other_seed = leave_one_out(data, SplitSettings(train_fraction=0.2, train_fraction_seed=1))
    assert other_seed.train_users != few.train_users and other_seed.n_train_users == 12
    # the same seed's smaller fraction takes its users from the larger one's
    five = leave_one_out(data, SplitSettings(train_fraction=0.05))
    assert set(five.train_users) < set(few.train_users) and five.n_train_users == 3
    # a full split trains every user
    assert leave_one_out(data).train_users == tuple(range(60))


def test_training_sequences_are_the_subsets_and_histories_every_users(few):
    assert few.training_sequences() == [few.train[r] for r in few.train_users]
    assert len(few.histories("valid")) == len(few.histories("test")) == len(few.targets("test")) == few.n_users == 60
    for r in outsiders(few):  # never trained on, yet their own history is still their input
        assert few.histories("valid")[r] == few.train[r]
        assert few.histories("test")[r] == few.train[r] + (few.valid_target[r],)


# ---------------------------------------------------------------- hash and saved file


def test_hash_is_unchanged_at_fraction_one_and_changes_below(data):
    full = leave_one_out(data)
    old_rule = content_hash({"data": data.content_hash, "settings": {"drop_short_users": False, "k_core": 0}, "format": 1}, 16)
    assert full.hash == old_rule  # the hash every split had before few-shot existed
    assert leave_one_out(data, SplitSettings(train_fraction=1.0, train_fraction_seed=7)).hash == full.hash
    hashes = {leave_one_out(data, SplitSettings(train_fraction=f, train_fraction_seed=s)).hash for f, s in ((0.2, 0), (0.2, 1), (0.05, 0))}
    assert len(hashes) == 3 and full.hash not in hashes


def test_committed_records_keep_their_split_and_fewshot_suites_get_their_own(tmp_path):
    """The main suite's ml-100k split still has the hash every committed record names (their run
    keys hash it); the few-shot suites' splits do not share it."""
    from bench.runner import prepare_split
    from bench.suites import load_suite

    records = [json.loads(p.read_text()) for p in (ROOT / "results" / "runs" / "ml-100k").glob("*.json")]
    committed = {r["split_hash"] for r in records if (r.get("split_settings") or {}).get("train_fraction", 1.0) == 1.0}
    main = prepare_split("ml-100k", tmp_path, load_suite("main").split)
    assert committed == {main.hash} and main.n_train_users == main.n_users
    five = prepare_split("ml-100k", tmp_path, load_suite("fewshot5").split)
    assert five.hash != main.hash and five.n_users == main.n_users and five.n_train_users == n_training_users(main.n_users, 0.05) == 47
    twenty = prepare_split("ml-100k", tmp_path, load_suite("fewshot20").split)
    # the committed few-shot records name their suites' splits
    assert {r["split_hash"] for r in records} == {main.hash, five.hash, twenty.hash}


def test_saved_split_records_its_training_users_and_round_trips(few, data, tmp_path):
    out = save_split(tmp_path, few)
    payload = json.loads((out / "split.json").read_text())
    assert payload["train_users"] == [data.user_ids[few.user_index[r]] for r in few.train_users]
    assert payload["settings"] == {"drop_short_users": False, "k_core": 0, "train_fraction": 0.2, "train_fraction_seed": 0}
    assert load_saved_split(tmp_path, few) is few
    # a full split's file is as it always was: no train_users, no few-shot settings; it loads as every user
    full = leave_one_out(data)
    payload = json.loads((save_split(tmp_path, full) / "split.json").read_text())
    assert "train_users" not in payload and payload["settings"] == {"drop_short_users": False, "k_core": 0}
    assert load_saved_split(tmp_path, full).n_train_users == full.n_users


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda p: {**p, "train_users": p["train_users"][:-1]}, "saved split differs from the data"),
        (lambda p: {k: v for k, v in p.items() if k != "train_users"}, "saved split differs from the data"),  # read as every user
        (lambda p: {**p, "train_users": "all"}, "train_users must be a list of user ids"),
    ],
    ids=["one user fewer", "no train_users", "not a list"],
)
def test_a_damaged_training_user_list_is_refused(few, tmp_path, damage, expected):
    path = save_split(tmp_path, few) / "split.json"
    path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    with pytest.raises(UserError, match=expected):
        load_saved_split(tmp_path, few)


# ---------------------------------------------------------------- every consumer


def test_mostpop_counts_the_training_users_only(few, tmp_path):
    expected = np.bincount([i for s in few.training_sequences() for i in s], minlength=few.n_items + 1)
    everyone = np.bincount([i for s in few.train for i in s], minlength=few.n_items + 1)
    assert train_item_counts(few).tolist() == expected.tolist() != everyone.tolist()
    method = METHODS.get("pop")({})
    info = method.fit(few, FitContext(workdir=tmp_path, seed=0, results_root=tmp_path))
    assert info["counted_interactions"] == sum(len(s) for s in few.training_sequences()) < sum(len(s) for s in few.train)
    assert method.score(few.histories("test")[:1])[0, 1:].tolist() == expected[1:].astype(float).tolist()


def test_evaluation_covers_every_user_and_every_run_seed_sees_the_same_users(few, tmp_path):
    from bench.runner import run_one
    from bench.suites import RunSpec

    save_split(tmp_path, few)
    records = [run_one(RunSpec("pop", "pop", few.dataset.name, seed, {}), few, tmp_path, threads=1, force=False, progress=False)[1] for seed in (0, 1)]
    for r in records:
        assert r["status"] == "ok" and r["n_users"] == 60 and r["n_train_users"] == 12
        assert len(r["ranks"]["valid"]) == len(r["ranks"]["test"]) == 60
        assert r["split_settings"] == {"drop_short_users": False, "k_core": 0, "train_fraction": 0.2, "train_fraction_seed": 0}
    assert records[0]["split_hash"] == records[1]["split_hash"] == few.hash
    assert records[0]["training"]["counted_interactions"] == records[1]["training"]["counted_interactions"]


def test_recbole_export_trains_on_the_training_users_and_evaluates_everyone(few, tmp_path):
    from baselines.recbole.models import ATOMIC, export_split

    folder = export_split(tmp_path, few, 10) / ATOMIC
    rows = {part: (folder / f"{ATOMIC}.{part}.inter").read_text().splitlines()[1:] for part in ("train", "valid", "test")}
    assert {line.split("\t")[0] for line in rows["train"]} == user_ids(few, few.train_users)
    assert len(rows["train"]) == sum(len(s) - 1 for s in few.training_sequences())
    everyone = user_ids(few, range(few.n_users))
    assert [line.split("\t")[0] for line in rows["valid"]] == [line.split("\t")[0] for line in rows["test"]] == [few.dataset.user_ids[u] for u in few.user_index]
    assert set(line.split("\t")[0] for line in rows["valid"]) == everyone


@pytest.mark.parametrize("method", ["laser", "lora"])
def test_the_llm_engines_training_examples_come_from_the_training_users(few, method):
    from tests.laser_fixtures import TINY_LASER

    config = {**TINY_LASER, "examples": "all_prefixes"} if method == "laser" else {"profile": "cpu", "examples": "all_prefixes", "history": 4}
    engine = METHODS.get(method)(config)
    rows = engine.training_rows(few, seed=0, phase="phase1", epoch=0)
    H = engine.cfg.history
    allowed = {(tuple(s[max(0, j - H) : j]), s[j]) for s in few.training_sequences() for j in range(1, len(s))}
    assert set(rows) == allowed and len(rows) == sum(len(s) - 1 for s in few.training_sequences())
    sampled = METHODS.get(method)({**config, "examples": "sample", "examples_per_user": 1}).training_rows(few, 0, "phase1", 0)
    assert len(sampled) == few.n_train_users and set(sampled) <= allowed


def test_lasers_frozen_encoder_and_mformer_pretraining_see_the_training_users_only(few, tmp_path, monkeypatch):
    """The frozen BERT4Rec is trained by RecBole on the training users' rows only, and M-Former
    pre-training reads the training users' sequences only (both real, one epoch)."""
    import laser.pretrain
    from laser.method import LaserMethod
    from tests.laser_fixtures import TINY_LASER, tiny_backbone

    results = tmp_path / "results"
    save_split(results, few)
    method = LaserMethod({**TINY_LASER, "pretrain_epochs": 1, "pretrain_batch_size": 32}, backbone=tiny_backbone(few.dataset.item_text[1:]))
    ctx = FitContext(workdir=tmp_path / "work", seed=0, results_root=results, progress=False)
    encoder = method._encoder(few, ctx)
    # what RecBole trained the encoder on: the train file of its export, and the rows RecBole loaded from it
    settings = method.id_method.settings
    folder = split_dir(results, few) / f"recbole-len{settings.max_seq_length}-rows{settings.train_rows_per_user}" / "atomic"
    train_rows = (folder / "atomic.train.inter").read_text().splitlines()[1:]
    assert {line.split("\t")[0] for line in train_rows} == user_ids(few, few.train_users)
    per_user = settings.train_rows_per_user
    assert len(train_rows) == sum(min(len(s) - 1, per_user) for s in few.training_sequences())
    assert method.id_method._rb_dataset.file_size_list == [len(train_rows), few.n_users, few.n_users]

    seen = []
    real_rows = laser.pretrain.pretrain_rows

    def spy(train, *args, **kwargs):
        seen.append([tuple(s) for s in train])
        return real_rows(train, *args, **kwargs)

    monkeypatch.setattr(laser.pretrain, "pretrain_rows", spy)
    method.build(few, ctx, encoder)
    info = method._pretrain(few, ctx)
    assert info["curve"] and seen == [few.training_sequences()]
    H = method.model.id_encoder.history
    assert info["curve"][0]["rows"] == sum(len(s) - 1 for s in few.training_sequences())
    assert {(h, t) for h, t in real_rows(seen[0], H, 0, 0)} <= {(s[max(0, j - H) : j], s[j]) for s in few.training_sequences() for j in range(1, len(s))}


# ---------------------------------------------------------------- suites and reports


def test_fewshot_suites_are_the_main_suite_on_a_fraction_with_its_training_in_steps():
    """The same runs on another split, each schedule scaled so that it trains as many optimizer
    steps as the main suite's run: every count of epochs 1/f times, or 1/f rows per user. The
    suite files write nothing but the fraction: the scaling is the suite expansion's."""
    from bench.suites import expand, load_suite
    from laser.config import ID_ENCODER_CPU, resolve

    main = load_suite("main")
    main_specs = {(s.name, s.dataset, s.seed): s for s in expand(main)}
    for name, fraction in (("fewshot5", 0.05), ("fewshot20", 0.2)):
        suite = load_suite(name)
        assert suite.split == {"train_fraction": fraction} and suite.seeds == main.seeds
        specs = {(s.name, s.dataset, s.seed): s for s in expand(suite)}
        assert specs.keys() == main_specs.keys()
        scale = round(1 / fraction)
        id_based = {**ID_ENCODER_CPU, "stopping_step": ID_ENCODER_CPU["stopping_step"] * scale, "epochs": ID_ENCODER_CPU["epochs"] * scale}
        laser = {"profile": "cpu", "examples_per_user": scale, "pretrain_epochs": resolve({"profile": "cpu"}).pretrain_epochs * scale, "id_encoder_config": id_based}
        expected = {
            "laser": laser, "mformer_tower": laser, "laser_fusion": {"laser": laser},
            "lora": {"profile": "cpu", "examples_per_user": scale}, "full_ft": {"profile": "cpu", "examples_per_user": scale}, "pop": {},
        }
        for ident, spec in specs.items():
            assert spec.config == expected.get(spec.name, id_based), ident


def test_every_registered_method_says_how_its_training_scales_to_a_fraction():
    """A method that forgot would train the full split's epochs on a few-shot split (an LLM epoch
    of 3 steps at 5%): every registered method scales its counts, or has nothing to train."""
    from bench.methods import METHODS, Method

    for name in METHODS.names():
        cls = METHODS.get(name)
        scaled = dict(cls.config_for_fraction({}, 4))
        assert (scaled == {}) == (name == "pop"), name
        cls(scaled)  # still a config the method accepts

    class Bare(Method):
        def fit(self, split, ctx): ...
        def score(self, histories): ...
        def parameter_counts(self): ...

    with pytest.raises(UserError, match="Bare does not say how its training scales to a fraction of the users"):
        Bare.config_for_fraction({}, 4)


def test_an_llm_epoch_over_every_prefix_scales_its_epochs_and_a_sampled_one_its_draws():
    from bench.methods import METHODS

    lora = METHODS.get("lora")
    base = lora({"profile": "cpu"}).cfg
    assert lora.config_for_fraction({"profile": "cpu"}, 5) == {"profile": "cpu", "examples_per_user": 5 * base.examples_per_user}
    every = {"profile": "cpu", "examples": "all_prefixes"}
    assert lora.config_for_fraction(every, 5) == {**every, "phase1_epochs": 5 * base.phase1_epochs, "phase2_epochs": 5 * base.phase2_epochs}


def test_a_suite_that_only_sets_a_fraction_trains_in_the_full_splits_steps(tmp_path):
    from bench.suites import expand, load_suite

    path = tmp_path / "quarter.yaml"
    path.write_text("datasets: [ml-100k]\nseeds: [0]\nsplit: {train_fraction: 0.25}\nmethods: {sasrec: {epochs: 30, stopping_step: 3}, pop: {}}\n")
    specs = {s.name: s.config for s in expand(load_suite(str(path)))}
    assert specs == {"sasrec": {"epochs": 120, "stopping_step": 12}, "pop": {}}


def record(name: str, seed: int, split_settings: dict | None, key: str) -> dict:
    r = {"name": name, "method": name, "dataset": "ml-100k", "seed": seed, "config": {}, "key": key, "status": "ok", "family": "Non-personalised", "ranks": {"test": [1, 2]}}
    if split_settings is not None:
        r["split_settings"] = split_settings
    return r


def test_reports_keep_fewshot_runs_apart_from_the_main_suites():
    from bench.report import suite_records
    from bench.report.probe_frames import main_runs

    old = record("pop", 0, {"drop_short_users": False, "k_core": 0}, "a")  # a record from before few-shot existed
    new_full = record("pop", 1, {"drop_short_users": False, "k_core": 0, "train_fraction": 1.0, "train_fraction_seed": 0}, "b")
    five = record("pop", 0, {"drop_short_users": False, "k_core": 0, "train_fraction": 0.05, "train_fraction_seed": 0}, "c")
    twenty = record("pop", 0, {"drop_short_users": False, "k_core": 0, "train_fraction": 0.2, "train_fraction_seed": 0}, "d")
    records = [old, new_full, five, twenty]
    assert [r["key"] for r in suite_records(records, "main")] == ["a", "b"]
    assert [r["key"] for r in suite_records(records, "fewshot5")] == ["c"]
    assert [r["key"] for r in suite_records(records, "fewshot20")] == ["d"]
    assert [r["key"] for r in main_runs(records)] == ["a", "b"]  # the claims' probes and controls pair full-data runs only


def test_a_fewshot_report_says_what_its_runs_trained_on():
    from bench.report.build import readme

    five = {**record("pop", 0, {"drop_short_users": False, "k_core": 0, "train_fraction": 0.05, "train_fraction_seed": 0}, "c"), "n_users": 943, "n_train_users": 47, "split_hash": "x"}
    text = readme("Suite `fewshot5`", [five], [], [])
    assert "Few-shot: on ml-100k, every method trained on 5% of the users (47 of 943 users)" in text
    assert "Few-shot" not in readme("Suite `main`", [record("pop", 0, {"drop_short_users": False, "k_core": 0}, "a") | {"split_hash": "x"}], [], [])
