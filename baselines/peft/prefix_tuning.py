"""`prefix_tuning`: peft prefix tuning (P-tuning v2): trainable keys and values for
`num_virtual_tokens` positions in every layer, passed as the cache (`past_key_values`), so the
text's positions start at `num_virtual_tokens` and the returned hidden states cover the inputs
only: the read-out position does not shift. For grouped-query attention peft sizes each
key/value as num_key_value_heads x head_dim (not hidden). `prefix_projection` adds P-tuning
v2's optional MLP reparameterisation (counted as trainable)."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.peft.base import TunedLLMMethod, positive
from bench.llm.config import LLMConfig


@dataclass(frozen=True)
class PrefixTuningBaselineConfig(LLMConfig):
    where = "prefix_tuning"

    num_virtual_tokens: int = 32
    prefix_projection: bool = False
    encoder_hidden_size: int | None = None  # the projection MLP's width (None: the key/value width)

    def __post_init__(self) -> None:
        super().__post_init__()
        positive("prefix_tuning", "num_virtual_tokens", self.num_virtual_tokens)
        if self.encoder_hidden_size is not None:
            positive("prefix_tuning", "encoder_hidden_size", self.encoder_hidden_size)


class PrefixTuningMethod(TunedLLMMethod):
    """peft prefix tuning (P-tuning v2): per-layer virtual keys/values as the cache; read-out: the
    suffix token, appended after the text through inputs_embeds (no position shift: the
    virtual tokens are not in the returned hidden states)."""

    name = "prefix_tuning"
    config_class = PrefixTuningBaselineConfig
    profiles = {"paper": {"lr": 1e-2, "num_virtual_tokens": 32}, "cpu": {"lr": 1e-2, "num_virtual_tokens": 4}}

    def _tune(self, backbone):
        from peft import PrefixTuningConfig, TaskType, get_peft_model

        kwargs = {"encoder_hidden_size": self.cfg.encoder_hidden_size} if self.cfg.encoder_hidden_size else {}
        config = PrefixTuningConfig(
            task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=self.cfg.num_virtual_tokens, prefix_projection=self.cfg.prefix_projection, **kwargs,
        )
        model = get_peft_model(backbone.decoder, config)
        self.kv_width = model.peft_config["default"].token_dim  # num_key_value_heads x head_dim
        return model, 0, False

    def tuning_facts(self):
        label = f"prefix tuning (P-tuning v2), {self.cfg.num_virtual_tokens} virtual keys/values per layer + suffix token"
        return {"label": label, "peft": "PREFIX_TUNING", "num_virtual_tokens": self.cfg.num_virtual_tokens, "kv_width": self.kv_width, "prefix_projection": self.cfg.prefix_projection}
