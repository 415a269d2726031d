"""The LLM baselines (LoRA, full fine-tuning, prompt tuning, prefix tuning) on a tiny random Llama.

The tiny Llama: hidden 32, 2 layers, 4 heads of 8 dims, 2 key/value heads (GQA: k_proj and
v_proj map 32 -> 16), MLP 64, an untied LM head.
"""

from __future__ import annotations

import pytest
import torch

from bench.errors import UserError
from bench.methods import METHODS, FitContext
from bench.report import tuning
from laser.method import LaserMethod
from tests.laser_fixtures import tiny_backbone

HIDDEN, LAYERS, KV = 32, 2, 16  # KV: num_key_value_heads x head_dim = 2 x 8
TINY = {"profile": "cpu", "llm_layers": None, "history": 4, "batch_size": 4, "phase1_epochs": 1, "phase2_epochs": 0, "valid_users": 10, "eval_batch_size": 256, "autocast": "off", "validate_init": False}
BASELINES = ("lora", "full_ft", "prompt_tuning", "prefix_tuning")


def make(name, split, results, tmp_path, **overrides):
    torch.manual_seed(0)
    backbone = tiny_backbone(split.dataset.item_text[1:])
    method = METHODS.get(name)({**TINY, **overrides}, backbone=backbone)
    return method, backbone, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False)


def lora_per_layer(targets):
    shapes = {"q_proj": (32, 32), "k_proj": (32, KV), "v_proj": (32, KV), "o_proj": (32, 32), "gate_proj": (32, 64), "up_proj": (32, 64), "down_proj": (64, 32)}
    return sum(sum(shapes[t]) for t in targets)


@pytest.mark.parametrize(
    "name,overrides,expected",
    [
        ("lora", {}, 8 * lora_per_layer(["q_proj", "v_proj"]) * LAYERS),  # r (d_in + d_out) per module per layer
        ("lora", {"r": 4, "target_modules": "all-linear"}, 4 * lora_per_layer(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]) * LAYERS),
        ("prompt_tuning", {"num_virtual_tokens": 5}, 5 * HIDDEN),
        ("prefix_tuning", {"num_virtual_tokens": 5}, 5 * LAYERS * 2 * KV),  # keys and values per layer, GQA width
        ("full_ft", {}, None),  # every decoder weight
    ],
)
def test_trainable_parameter_counts_equal_the_analytic_values(split, results, tmp_path, name, overrides, expected):
    method, backbone, ctx = make(name, split, results, tmp_path, **overrides)
    decoder_params = sum(p.numel() for p in backbone.decoder.parameters())
    lm_head = backbone.n_params - decoder_params  # untied in the tiny Llama
    assert lm_head == HIDDEN * backbone.decoder.config.vocab_size
    model = method.build(split, ctx)
    if expected is None:
        expected = decoder_params
    counts = method.parameter_counts()
    suffix = HIDDEN
    assert counts.trainable == expected + suffix
    assert counts.llm_side_trainable == counts.trainable  # all of it lives in the LLM
    added = 0 if name == "full_ft" else expected  # full FT trains existing weights; the others add parameters
    assert counts.total == backbone.n_params + added + suffix
    if name != "full_ft":  # the same numbers as peft's own count (which knows nothing of the suffix or LM head)
        peft_trainable, peft_total = model.backbone.get_nb_trainable_parameters()
        assert (peft_trainable + suffix, peft_total + suffix + lm_head) == (counts.trainable, counts.total)
    if name == "prefix_tuning":  # peft sizes each virtual key/value as num_key_value_heads x head_dim
        assert model.backbone.peft_config["default"].token_dim == KV == backbone.decoder.config.num_key_value_heads * HIDDEN // 4
    if overrides.get("target_modules") == "all-linear":  # read from the model, not assumed
        assert method.target_modules == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
    # the backbone follows .train() only when its own weights train (LoRA dropout, full FT)
    model.train()
    assert model.backbone.training == (name in ("lora", "full_ft")) and model.training


def test_laser_counts_keep_their_meaning(split, results, tmp_path):
    backbone = tiny_backbone(split.dataset.item_text[1:])
    method = LaserMethod({**TINY, "prefix": "none"}, backbone=backbone)
    method.build(split, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False))
    counts = method.parameter_counts()
    assert (counts.trainable, counts.total, counts.llm_side_trainable) == (HIDDEN, backbone.n_params + HIDDEN, HIDDEN)


@pytest.mark.parametrize("name", BASELINES)
def test_one_step_trains_scores_all_items_and_only_full_ft_moves_base_weights(split, results, tmp_path, name):
    method, backbone, ctx = make(name, split, results, tmp_path)
    base = [(n, p, p.detach().clone()) for n, p in backbone.decoder.named_parameters()]
    full_rows = LaserMethod.training_rows
    method.training_rows = lambda *args: full_rows(method, *args)[:8]  # a handful of sampled rows: 2 steps
    info = method.fit(split, ctx)
    scores = method.score(split.histories("test")[:5])
    assert scores.shape == (5, split.n_items + 1) and torch.isfinite(scores[:, 1:]).all()
    assert info["epochs"] == 1 and len(info["curve"]) == 1
    entry = info["curve"][0]
    for key in ("train_s", "epoch_s", "examples_per_s", "tokens_per_s"):  # cost per epoch
        assert key in entry and entry[key] >= 0
    assert info["tuning"]["trainable"] == method.parameter_counts().trainable
    assert tuning({"config": {}, "training": info}, method.family) == info["tuning"]["label"]  # the tables' "tuning" column
    # the best epoch's weights are captured under the names the model loads them by
    from bench.llm.checkpoint import trainable_state

    assert set(trainable_state(method.model)) == {n for n, p in method.model.named_parameters() if p.requires_grad}
    assert not torch.allclose(method.model.suffix.detach(), backbone.embeddings.weight.detach().float().mean(0))
    changed = {n for n, p, before in base if not torch.equal(p.detach(), before.to(p.device))}  # the run may have moved it to a GPU
    if name == "full_ft":
        assert changed == {n for n, _, _ in base}  # every tensor (the embedding only in rows the batches used)
    else:
        assert not changed  # bit-identical
        assert all(not p.requires_grad for _, p, _ in base)


def reference_readout(model, history, name):
    """One unpadded example built by hand: [virtual tokens] + text + suffix, the last position's state."""
    ids = torch.tensor(model.prompts.user_ids(history), device=model.embed.weight.device)
    seq = torch.cat([model.embed(ids), model.suffix.to(model.embed.weight.dtype)])[None]
    if name == "prompt_tuning":
        seq = torch.cat([model.backbone.get_prompt(batch_size=1), seq], 1)
        out = model.backbone.get_base_model()(inputs_embeds=seq)
    elif name == "prefix_tuning":
        out = model.backbone.get_base_model()(inputs_embeds=seq, past_key_values=model.backbone.get_prompt(batch_size=1))
    else:
        out = model.backbone(inputs_embeds=seq)
    return out.last_hidden_state[0, -1]


@pytest.mark.parametrize("name", BASELINES)
def test_readout_is_the_suffix_position_with_virtual_tokens_prepended(split, results, tmp_path, name):
    method, _, ctx = make(name, split, results, tmp_path, num_virtual_tokens=3) if "tuning" in name else make(name, split, results, tmp_path)
    model = method.build(split, ctx)
    if name == "lora":  # LoRA B starts at zero: make the adapters matter
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_B" in n:
                    p.normal_(0, 0.5)
    model.eval()
    histories = [split.train[0][:1], split.train[1][:4], split.train[2][:2]]  # different lengths: right padding
    with torch.inference_mode():
        batched, _, _ = model.encode(histories)
        for row, history in enumerate(histories):
            expected = reference_readout(model, history, name)
            assert torch.allclose(batched[row], expected, atol=1e-5), (name, row)
        if name == "prefix_tuning":  # the virtual keys/values do reach the read-out
            ids = torch.tensor(model.prompts.user_ids(histories[0]), device=model.embed.weight.device)
            plain = model.backbone.get_base_model()(inputs_embeds=torch.cat([model.embed(ids), model.suffix])[None]).last_hidden_state[0, -1]
            assert not torch.allclose(plain, batched[0], atol=1e-3)
        if name == "prompt_tuning":  # the check can fail: unshifted, the read-out lands on a text token
            model.leading_positions = 0
            assert not torch.allclose(model.encode(histories)[0][1], batched[1], atol=1e-3)


def test_configs_reject_unknown_and_laser_only_keys_and_profiles_differ(split, results, tmp_path):
    with pytest.raises(UserError, match="unknown key 'lora_rank'"):
        METHODS.get("lora")({"lora_rank": 4})
    with pytest.raises(UserError, match="experts.*Laser setting"):
        METHODS.get("prompt_tuning")({"experts": 4})
    with pytest.raises(UserError, match="sees no collaborative IDs"):
        METHODS.get("lora")({"prefix": "mformer"})
    with pytest.raises(UserError, match="target_modules"):
        METHODS.get("lora")({"target_modules": "q_proj"})
    method, _, ctx = make("lora", split, results, tmp_path, target_modules=["q_proj", "qkv_proj"])
    with pytest.raises(UserError, match=r"\['qkv_proj'\].*it has: down_proj, gate_proj"):
        method.build(split, ctx)
    lora = METHODS.get("lora")({}).cfg
    assert (lora.r, lora.lora_alpha, lora.lora_dropout, lora.target_modules) == (8, 16, 0.05, ["q_proj", "v_proj"])
    # the config, and so the run key, holds no Laser field
    assert not hasattr(lora, "experts") and not hasattr(lora, "mformer_hidden")
    assert not set(METHODS.get("lora")({}).resolved_config()) & {"prefix", "experts", "id_encoder_config"}
    full_paper, full_cpu = METHODS.get("full_ft")({"profile": "paper"}).cfg, METHODS.get("full_ft")({}).cfg
    assert (full_paper.lr, full_paper.dtype, full_paper.phase1_epochs) == (1e-5, "fp32", 15)
    assert (full_cpu.lr, full_cpu.dtype, full_cpu.history, full_cpu.examples) == (1.5e-4, "fp32", 3, "sample")
    lora_paper, lora_cpu = METHODS.get("lora")({"profile": "paper"}).cfg, METHODS.get("lora")({}).cfg
    assert (lora_paper.lr, lora_cpu.lr, lora_cpu.min_lr) == (1e-4, 3e-3, 3e-4)
    assert METHODS.get("prefix_tuning")({"profile": "paper"}).cfg.num_virtual_tokens == 32
    for name in BASELINES:
        cls = METHODS.get(name)
        assert cls.family == "LLM-based (tuned LLM)" and cls.uses_collaborative_ids is False


def test_suites_name_the_baselines():
    from bench.suites import expand, load_suite

    assert {s.name for s in expand(load_suite("peft"))} == {"laser", "pop", *BASELINES}  # pop: the MostPop floor
    assert {"laser", "lora", "full_ft"} <= {s.name for s in expand(load_suite("main"))}


@pytest.mark.parametrize("name,shared", [("lora", True), ("full_ft", True), ("prompt_tuning", False), ("prefix_tuning", False)])
def test_inference_over_a_shared_head_cache_equals_the_full_pass(split, results, tmp_path, name, shared):
    """At inference, when nothing per-row comes before the instruction, the head runs once and
    the rows continue from its cache: the same user and item embeddings as the full pass.
    Prompt learning brings its own virtual tokens or cache and keeps the full pass."""
    method, _, ctx = make(name, split, results, tmp_path)
    model = method.build(split, ctx)
    with torch.no_grad():  # LoRA / full FT weights off their initial values, so the test sees them
        for p in model.backbone.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    assert model._head_shared is shared
    histories = split.histories("test")[:16]  # different lengths: padding and per-row read-out matter
    model.eval()  # as scoring runs it (no LoRA dropout)
    with torch.inference_mode():
        fast_users, fast_items = model.encode(histories)[0], model.encode_items(20)
        model._head_shared = False
        full_users, full_items = model.encode(histories)[0], model.encode_items(20)
    assert torch.allclose(fast_users, full_users, atol=1e-5)
    assert torch.allclose(fast_items, full_items, atol=1e-5)
    model.train()
    model._head_shared = shared
    users, _, _ = model.encode(histories[:4])  # training keeps the full pass (gradients, LoRA dropout)
    assert users.requires_grad


@pytest.mark.parametrize(
    "overrides",
    [
        {"examples": "sample", "examples_per_user": 3, "length_buckets": 8, "batch_size": 8},
        {"examples": "all_prefixes", "length_buckets": 3, "batch_size": 16},
        {"examples": "last", "length_buckets": 1, "batch_size": 7},
    ],
)
def test_each_phase_schedule_spans_exactly_the_batches_its_epochs_run(split, results, tmp_path, overrides):
    """`count_bucketed_batches` sizes every schedule before any batch is drawn: the steps it plans
    are the steps the epochs take, so each phase's learning rate ends on min_lr."""
    method, _, ctx = make("lora", split, results, tmp_path, phase1_epochs=2, phase2_epochs=1, warmup_steps=2, **overrides)
    planned, schedules = [], []
    phase_optimizer = method.phase_optimizer

    def keeping(steps_per_epoch, n_epochs):
        optimizer, schedule = phase_optimizer(steps_per_epoch, n_epochs)
        planned.append(steps_per_epoch * n_epochs)
        schedules.append(schedule)
        return optimizer, schedule

    method.phase_optimizer = keeping
    curve = method.fit(split, ctx)["curve"]
    ran = [s.last_epoch for s in schedules]  # one schedule step per batch
    assert ran == planned and all(n > 1 for n in ran)
    last_of_phase = {e["phase"]: e for e in curve}
    assert [e["lr_end"] for e in last_of_phase.values()] == pytest.approx([method.cfg.min_lr] * 2)


@pytest.mark.parametrize("host_bf16", [True, False])
def test_the_record_says_what_auto_precision_became_on_this_host(split, results, tmp_path, monkeypatch, host_bf16):
    import bench.llm.model

    monkeypatch.setattr(bench.llm.model, "bf16_supported", lambda: host_bf16)
    method, _, ctx = make("lora", split, results, tmp_path, autocast="auto", phase1_epochs=0, phase2_epochs=1, examples="last")
    info = method.fit(split, ctx)
    assert info["precision"] == {"dtype": "fp32", "autocast": "bf16" if host_bf16 else "off"}  # the tiny Llama's weights are fp32
