"""Levers of the `cpu` profile (issue 15): the backbone cut to its first layers, and BERT4Rec's
next-item state in Laser's ID states. Tiny random Llama, real ml-100k slice."""

from __future__ import annotations

import pytest
import torch

from bench.errors import UserError
from bench.llm.backbone import keep_first_layers
from bench.methods import FitContext
from laser.method import LaserMethod
from tests.laser_fixtures import TINY_LASER, tiny_backbone


def test_first_layers_equal_a_model_built_with_that_many_layers(split):
    from transformers import LlamaModel

    backbone = tiny_backbone(split.dataset.item_text[1:], layers=3)
    before = backbone.n_params
    one_layer = sum(p.numel() for p in backbone.decoder.layers[2].parameters())
    keep_first_layers(backbone, 2)
    assert len(backbone.decoder.layers) == 2 and backbone.n_params == before - one_layer
    fresh = LlamaModel(backbone.decoder.config)
    fresh.load_state_dict(backbone.decoder.state_dict())  # strict: the cut model has exactly layers 0-1
    x = torch.randn(2, 7, backbone.hidden_size)
    with torch.inference_mode():
        assert torch.allclose(backbone.decoder(inputs_embeds=x).last_hidden_state, fresh(inputs_embeds=x).last_hidden_state, atol=1e-6)
    with pytest.raises(UserError, match="exceeds the 2 layers"):
        keep_first_layers(backbone, 3)


def test_llm_layers_reaches_the_model_and_is_checked(split, results, tmp_path):
    method = LaserMethod({**TINY_LASER, "prefix": "none", "llm_layers": 1}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    model = method.build(split, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False))
    assert len(model.backbone.layers) == 1
    with pytest.raises(UserError, match="llm_layers"):
        LaserMethod({**TINY_LASER, "llm_layers": 0})


@pytest.mark.parametrize("name", ["laser", "lora"])
def test_a_backbone_shallower_than_llm_layers_is_refused_with_the_set_that_fixes_it(split, results, tmp_path, name):
    """The cpu profile keeps 15 layers: a 2-layer model is refused before any run starts
    (preflight reads its config.json), and again if one is passed in, never cut silently."""
    from bench.methods import METHODS

    backbone = tiny_backbone(split.dataset.item_text[1:])
    folder = tmp_path / "tiny-llama"
    backbone.decoder.config.save_pretrained(folder)
    backbone.tokenizer.save_pretrained(folder)
    fix = rf"--set {name}\.llm_layers=2 \(or fewer\), or --set {name}\.llm_layers=null"
    with pytest.raises(UserError, match=rf"llm_layers 15 exceeds the 2 layers of tiny-llama .*{fix}"):
        METHODS.get(name)({"profile": "cpu", "llm": str(folder)}).preflight()
    METHODS.get(name)({"profile": "cpu", "llm": str(folder), "llm_layers": None}).preflight()
    injected = METHODS.get(name)({**TINY_LASER, "llm_layers": 15} if name == "laser" else {"profile": "cpu", "autocast": "off"}, backbone=backbone)
    with pytest.raises(UserError, match=fix):
        injected.build(split, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False))


def test_next_state_is_the_state_bert4rec_scores_the_next_item_from(split, results, tmp_path):
    from recbole.data.interaction import Interaction

    method = LaserMethod({**TINY_LASER, "id_next_state": True}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    encoder = method._encoder(split, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False))
    assert encoder.next_state and encoder.history == 9  # the tiny encoder reads 10 positions: 9 items + [MASK]
    histories = [h[-6:] for h in split.histories("valid")[:5]]
    states, valid = encoder(histories)
    assert valid.sum(1).tolist() == [len(h) + 1 for h in histories]
    rec = encoder.model
    last = states[torch.arange(len(histories)), valid.sum(1) - 1]
    ours = last @ rec.item_embedding.weight[: rec.n_items].T + rec.output_bias
    # RecBole's own prediction: it appends [MASK] and drops the sequence's first position
    seq = torch.zeros(len(histories), 10, dtype=torch.long)
    for r, h in enumerate(histories):
        seq[r, : len(h) + 1] = encoder.index[torch.tensor([h[0]] + list(h))]
    lengths = torch.tensor([len(h) + 1 for h in histories])
    with torch.inference_mode():
        theirs = rec.full_sort_predict(Interaction({rec.ITEM_SEQ: seq, rec.ITEM_SEQ_LEN: lengths}))
    assert torch.allclose(ours, theirs, atol=1e-5)
    plain = LaserMethod(TINY_LASER, backbone=tiny_backbone(split.dataset.item_text[1:]))._encoder(split, FitContext(workdir=tmp_path, seed=0, results_root=results, progress=False))
    assert plain.history == 10 and plain(histories)[1].sum(1).tolist() == [len(h) for h in histories]


def test_template_ablation_varies_away_from_each_profiles_own_prompt():
    from laser.ablations import variants
    from laser.config import resolve

    for profile in ("cpu", "paper"):
        table = variants("template", profile)
        base = resolve({"profile": profile}).template
        assert table["full"] == {} and all(v["template"] != base for name, v in table.items() if name != "full")
        assert len(table) == 3  # the base plus the two other prompts
    assert variants("template", "cpu")["with_instruction"] == {"template": "full"}
