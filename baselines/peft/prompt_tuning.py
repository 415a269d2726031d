"""`prompt_tuning`: peft prompt tuning, `num_virtual_tokens` trainable input embeddings that peft
prepends to `inputs_embeds` ahead of the text; the hidden states then start with those
positions, so the read-out position shifts by `num_virtual_tokens` (the engine model's
`leading_positions`). Initialised from randomly sampled vocabulary embeddings
(`prompt_tuning_init: sample_vocab`, peft's SAMPLE_VOCAB) or peft's N(0, 1) (`random`)."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.peft.base import TunedLLMMethod, positive
from bench.errors import unknown
from bench.llm.config import LLMConfig


@dataclass(frozen=True)
class PromptTuningBaselineConfig(LLMConfig):
    where = "prompt_tuning"

    num_virtual_tokens: int = 32
    prompt_tuning_init: str = "sample_vocab"  # sample_vocab | random

    def __post_init__(self) -> None:
        super().__post_init__()
        positive("prompt_tuning", "num_virtual_tokens", self.num_virtual_tokens)
        if self.prompt_tuning_init not in ("sample_vocab", "random"):
            raise unknown("prompt_tuning prompt_tuning_init", self.prompt_tuning_init, ("sample_vocab", "random"))


class PromptTuningMethod(TunedLLMMethod):
    """peft prompt tuning: virtual tokens prepended to inputs_embeds; read-out: the suffix token,
    appended after the text through inputs_embeds (its position shifted by the virtual tokens)."""

    name = "prompt_tuning"
    config_class = PromptTuningBaselineConfig
    profiles = {"paper": {"lr": 3e-2, "num_virtual_tokens": 32}, "cpu": {"lr": 3e-2, "num_virtual_tokens": 4}}

    def _tune(self, backbone):
        from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

        init = PromptTuningInit.SAMPLE_VOCAB if self.cfg.prompt_tuning_init == "sample_vocab" else PromptTuningInit.RANDOM
        config = PromptTuningConfig(task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=self.cfg.num_virtual_tokens, prompt_tuning_init=init)
        return get_peft_model(backbone.decoder, config), self.cfg.num_virtual_tokens, False

    def tuning_facts(self):
        label = f"prompt tuning, {self.cfg.num_virtual_tokens} virtual tokens + suffix token"
        return {"label": label, "peft": "PROMPT_TUNING", "num_virtual_tokens": self.cfg.num_virtual_tokens, "init": self.cfg.prompt_tuning_init}
