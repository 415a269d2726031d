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
