"""Laser's own bad inputs: one-line UserErrors naming the folder, key or value."""

from __future__ import annotations

import pytest

from bench.errors import UserError
from bench.llm.backbone import resolve_llm_path
from laser.method import LaserMethod


def test_missing_llm_folder(tmp_path):
    with pytest.raises(UserError, match=r"nope: LLM folder not found \(pass --llm PATH"):
        resolve_llm_path(str(tmp_path / "nope"))


def test_llm_folder_without_config_or_tokenizer(tmp_path):
    with pytest.raises(UserError, match="not a Hugging Face model folder"):
        resolve_llm_path(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="no tokenizer files"):
        resolve_llm_path(str(tmp_path))


@pytest.mark.parametrize(
    "config,message",
    [
        ({"top_k": 5}, r"top_k \(5\) cannot exceed experts \(4\)"),
        ({"profile": "gpu"}, r"unknown laser profile 'gpu' \(did you mean: cpu\?\)"),
        ({"readout": "cls"}, "unknown laser readout 'cls'"),
        ({"lr": -1.0}, "lr must be > 0"),
        ({"experts": 0}, "experts must be a positive integer"),
        ({"phase1_epochs": 0, "phase2_epochs": 0}, "at least one training epoch"),
        ({"expert": 4}, r"unknown key 'expert' \(did you mean: experts"),
    ],
)
def test_bad_laser_settings(config, message):
    with pytest.raises(UserError, match=message) as err:
        LaserMethod(config)
    assert "\n" not in str(err.value)
