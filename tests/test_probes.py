"""Kept weights and attribution probes: a tiny random Llama on a real ml-100k slice."""

from __future__ import annotations

import pytest
import torch

from bench.llm.probes import derangement
from bench.methods import FitContext
from bench.results import load_weights, save_weights
from laser.method import LaserMethod
from tests.laser_fixtures import TINY_LASER, tiny_backbone


def make(split, results, tmp_path, **overrides):
    method = LaserMethod({**TINY_LASER, **overrides}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    return method, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False)


@pytest.fixture(scope="module")
def trained(split, results, tmp_path_factory):
    method, ctx = make(split, results, tmp_path_factory.mktemp("laser"))
    method.fit(split, ctx)
    return method


def test_derangement_moves_every_element_and_is_seeded():
    order = derangement(50, 0, "x")
    assert sorted(order) == list(range(50)) and all(order[i] != i for i in range(50))
    assert order == derangement(50, 0, "x") != derangement(50, 1, "x")


def test_restored_weights_score_as_the_trained_run(trained, split, results, tmp_path):
    histories = split.histories("test")
    before = trained.score(histories)
    kept = trained.kept_weights()
    # phase 2 won or lost against phase 1: either way the item matrix's weights are known
    assert kept["weights"] and (kept["item_weights"] is None or set(kept["item_weights"]) == set(kept["weights"]))
    path = tmp_path / "w.pt"
    facts = save_weights(path, kept)
    assert facts["values"] >= sum(p.numel() for p in trained.model.parameters() if p.requires_grad)
    fresh, ctx = make(split, results, tmp_path / "restore")
    fresh.restore(split, ctx, load_weights(path))
    torch.testing.assert_close(fresh.score(histories), before)


def test_each_probe_changes_the_scores_it_should_and_restores_them(trained, split):
    histories = split.histories("test")
    before = trained.score(histories)
    items_before = trained.items.clone()
    assert set(trained.probes) == {"text_shuffled", "text_blank", "id_shuffled", "item_id_shuffled", "id_mean"}
    for name in trained.probes:
        with trained.probed(name, split, seed=0):
            probed = trained.score(histories)
            item_side = not torch.equal(trained.items, items_before)
        assert not torch.allclose(probed, before), name
        # only the probes that change an item's input re-encode the item matrix
        assert item_side == (name in ("text_shuffled", "item_id_shuffled", "id_mean")), name
        torch.testing.assert_close(trained.score(histories), before)
        assert torch.equal(trained.items, items_before)


def test_text_blank_gives_every_user_the_same_text(trained, split):
    prompts = trained.model.prompts
    with trained.probed("text_blank", split, seed=0):
        assert {tuple(prompts.user_ids(h)) for h in split.histories("test")} == {tuple(prompts.head)}
    assert len({tuple(prompts.user_ids(h)) for h in split.histories("test")}) > 1


def test_id_shuffled_feeds_each_user_another_users_history(trained, split):
    encoder = trained.model.id_encoder
    histories = split.histories("test")
    seen = []
    real = encoder.forward

    def spy(hs):
        out = real(hs)
        seen.extend(tuple(h) for h in encoder.history_map(hs)) if encoder.history_map else None
        return out

    with trained.probed("id_shuffled", split, seed=0):
        encoder.forward = spy
        try:
            trained.score(histories)
        finally:
            del encoder.forward
    assert len(seen) == len(histories)
    assert sum(s != tuple(h) for s, h in zip(seen, histories)) >= len(histories) - 2  # identical histories aside


def test_unknown_probe_says_which_exist(trained, split):
    from bench.errors import UserError

    with pytest.raises(UserError, match="id_shuffled"):
        trained.probed("id_shufled", split, seed=0)


def test_mformer_tower_learns_without_an_llm_and_shares_lasers_pretraining(split, results, tmp_path):
    from laser.tower import MFormerTowerMethod

    tower = MFormerTowerMethod({**TINY_LASER, "pretrain_epochs": 1}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    ctx = FitContext(workdir=tmp_path / "tower", seed=0, results_root=results, progress=False)
    facts = tower.fit(split, ctx)
    assert facts["precision"] == {"dtype": "fp32", "autocast": "off"}  # the LLM never runs: whatever `auto` gives it, the tower is fp32
    assert facts["epochs"] == 2 and facts["pretrain"]["curve"]
    assert not any(isinstance(m, torch.nn.Embedding) and m.num_embeddings > 1000 for m in tower.model.modules())
    counts = tower.parameter_counts()
    assert counts.llm_side_trainable is None and counts.trainable == sum(p.numel() for p in tower.model.prefix.parameters())
    scores = tower.score(split.histories("test"))
    assert scores.shape == (split.n_users, split.n_items + 1) and bool(scores[:, 1:].isfinite().all())
    for name in tower.probes:
        with tower.probed(name, split, seed=0):
            assert not torch.allclose(tower.score(split.histories("test")), scores), name


def test_laser_fusion_picks_lambda_on_validation_from_a_kept_run(trained, split, results, tmp_path):
    from laser.fusion import LaserFusionMethod, standardised

    kept = trained.kept_weights()
    fusion = LaserFusionMethod({"laser": {**TINY_LASER}, "lambdas": [0, 1, 1000]}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    ctx = FitContext(workdir=tmp_path / "fusion", seed=0, results_root=results, progress=False, find_kept=lambda name, cfg: kept)
    facts = fusion.fit(split, ctx)
    grid = facts["fusion"]["grid"]
    assert set(grid) == {"0", "1", "1000"} and facts["fusion"]["lambda"] == max([0.0, 1.0, 1000.0], key=lambda v: (grid[f"{v:g}"], -v))
    histories = split.histories("test")
    laser_only = standardised(trained.score(histories))
    if facts["fusion"]["lambda"] == 0:
        torch.testing.assert_close(fusion.score(histories), laser_only)
    else:
        assert not torch.allclose(fusion.score(histories), laser_only)
    # lambda 0 is Laser alone: its validation NDCG equals the trained run's
    from bench.metrics import metrics_from_ranks, ranks_from_scores

    valid = metrics_from_ranks(ranks_from_scores(trained.score(split.histories("valid")), split.targets("valid")), ks=(10,))["ndcg@10"]
    assert grid["0"] == pytest.approx(valid, abs=1e-6)


def test_laser_fusion_without_a_kept_laser_run_says_what_to_run(split, results, tmp_path):
    from bench.errors import UserError
    from bench.runner import kept_finder
    from laser.fusion import LaserFusionMethod

    fusion = LaserFusionMethod({"laser": {**TINY_LASER}}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    ctx = FitContext(workdir=tmp_path / "f", seed=0, results_root=tmp_path, progress=False, find_kept=kept_finder(tmp_path, "toy", split, 0))
    with pytest.raises(UserError, match="bench run --methods laser --seeds 0"):
        fusion.fit(split, ctx)


def _tiny_llm_folder(texts, folder):
    backbone = tiny_backbone(texts)
    backbone.decoder.config.save_pretrained(folder)  # a causal LM folder that `--llm` loads
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(backbone.decoder.config)
    model.model.load_state_dict(backbone.decoder.state_dict())
    model.save_pretrained(folder)
    backbone.tokenizer.save_pretrained(folder)
    return folder


def test_bench_run_keeps_weights_and_probes_then_bench_probe_and_the_controls_reuse_them(ml100k, tmp_path, capsys):
    """Through the CLI: a Laser run keeps its weights and probes itself; `bench probe` re-scores it
    without training; laser_fusion fuses the kept run; mformer_tower trains with no LLM."""
    import json

    from bench.cli import main
    from tests.conftest import slice_dataset
    from tests.test_cli_runs import write_atomic

    data = slice_dataset(ml100k, 40, max_len=20)
    folder = write_atomic(data, tmp_path / "data" / "ml-probe")
    llm = _tiny_llm_folder(data.item_text[1:], tmp_path / "llm")
    laser = {k: v for k, v in TINY_LASER.items() if k != "valid_users"}
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"datasets: [{folder}]\nseeds: [0]\nmethods:\n  laser: {json.dumps(laser)}\n"
        f"  laser_fusion: {json.dumps({'laser': laser, 'lambdas': [0, 1]})}\n  mformer_tower: {json.dumps(laser)}\n"
    )
    results = tmp_path / "results"
    assert main(["--results", str(results), "run", "--suite", str(suite), "--llm", str(llm), "--quiet"]) == 0
    records = {json.loads(p.read_text())["method"]: json.loads(p.read_text()) for p in (results / "runs").rglob("*.json")}
    r = records["laser"]
    assert r["status"] == "ok", r.get("error")
    assert (results / r["weights"]["file"]).is_file() and r["weights"]["values"] >= r["parameters"]["trainable"]
    assert set(r["probes"]) == {"text_shuffled", "text_blank", "id_shuffled", "item_id_shuffled", "id_mean"}
    assert all(len(p["ranks"]) == r["n_users"] for p in r["probes"].values())
    fusion = records["laser_fusion"]
    assert fusion["status"] == "ok", fusion.get("error")
    assert fusion["family"] == "control" and set(fusion["training"]["fusion"]["grid"]) == {"0", "1"}
    tower = records["mformer_tower"]
    assert tower["status"] == "ok", tower.get("error") and tower["family"] == "control"
    assert set(tower["probes"]) == {"id_shuffled", "item_id_shuffled", "id_mean"}

    capsys.readouterr()
    assert main(["--results", str(results), "probe", "--suite", str(suite), "--methods", "laser", "--llm", str(llm), "--probes", "id_mean", "--force", "--quiet"]) == 0
    assert "laser" in capsys.readouterr().out
    (path,) = [p for p in (results / "runs").rglob("laser-*.json")]
    again = json.loads(path.read_text())
    # same host, same weights: the re-scored unprobed model ranks every user as the run did
    assert again["probes"]["none"]["ranks"] == r["ranks"]["test"]
    assert again["probes"]["id_mean"]["ranks"] == r["probes"]["id_mean"]["ranks"]
    assert again["probes"]["text_blank"] == r["probes"]["text_blank"]  # not asked for: kept as it was
    assert main(["--results", str(results), "probe", "--suite", str(suite), "--methods", "laser", "--probes", "id_shufled"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_a_run_that_reads_another_waits_for_it():
    from bench.runner import waves
    from bench.suites import RunSpec

    specs = [RunSpec(name=n, method=n, dataset="d", seed=0, config={}) for n in ("laser_fusion", "pop", "laser")]
    assert [[s.method for s in w] for w in waves(specs)] == [["pop", "laser"], ["laser_fusion"]]
    # with no laser run in the batch there is nothing to wait for
    assert [[s.method for s in w] for w in waves(specs[:2])] == [["laser_fusion", "pop"], []]


@pytest.mark.parametrize("name", ["lora", "full_ft"])
def test_llm_baselines_keep_weights_restore_and_take_the_text_probes(name, split, results, tmp_path):
    from bench.errors import UserError
    from bench.methods import METHODS

    tiny = {"profile": "cpu", "llm_layers": None, "history": 4, "batch_size": 8, "phase1_epochs": 1, "phase2_epochs": 1, "valid_users": 10, "eval_batch_size": 64, "autocast": "off", "validate_init": False}
    build = lambda: METHODS.get(name)(tiny, backbone=tiny_backbone(split.dataset.item_text[1:]))  # noqa: E731
    method = build()
    method.fit(split, FitContext(workdir=tmp_path / "fit", seed=0, results_root=results, progress=False))
    histories = split.histories("test")
    before = method.score(histories)
    assert method.probes == ("text_shuffled", "text_blank")
    fresh = build()
    fresh.restore(split, FitContext(workdir=tmp_path / "restore", seed=0, results_root=results, progress=False), method.kept_weights())
    torch.testing.assert_close(fresh.score(histories), before)
    for probe in fresh.probes:
        with fresh.probed(probe, split, seed=0):
            assert not torch.allclose(fresh.score(histories), before), probe
    wrong = {**method.kept_weights(), "weights": dict(list(method.kept_weights()["weights"].items())[1:])}
    with pytest.raises(UserError, match="do not fit"):
        build().restore(split, FitContext(workdir=tmp_path / "wrong", seed=0, results_root=results, progress=False), wrong)
