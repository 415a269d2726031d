"""`full_ft`: every decoder weight trains + the engine's suffix read-out. Weights load in fp32
(`dtype: fp32`): with bf16 weights, Adam steps of 1e-5 fall below bf16 resolution and are lost;
bf16 autocast still applies."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.peft.base import TunedLLMMethod
from bench.llm.config import LLMConfig


@dataclass(frozen=True)
class FullFTConfig(LLMConfig):
    where = "full_ft"


class FullFineTuneMethod(TunedLLMMethod):
    """Every LLM decoder weight trainable + the engine's suffix read-out."""

    name = "full_ft"
    config_class = FullFTConfig
    profiles = {"paper": {"lr": 1e-5, "min_lr": 1e-6, "dtype": "fp32"}, "cpu": {"lr": 1.5e-4, "min_lr": 1.5e-5, "dtype": "fp32"}}  # cpu lr: chosen on validation (base.py)

    def _tune(self, backbone):
        backbone.decoder.requires_grad_(True)
        return backbone.decoder, 0, True

    def tuning_facts(self):
        return {"label": "full fine-tune + suffix token", "peft": None, "weights": "all decoder weights"}
