"""LLM baselines on Laser's footing: LoRA, full fine-tuning, prompt tuning, prefix tuning.

Each method is a `LaserMethod` that overrides only how the model is built (`_make_model`) and
how its config is resolved (`_resolve`). Everything else is Laser's, unchanged: the prompt
template, the suffix-token read-out, cos/tau scoring against the item matrix, the full-softmax
loss, the pipeline (phase 1 with item gradient, phase 2 on the frozen item matrix), epoch selection on validation users only, per-epoch
checkpoints and resume, and `parameter_counts`. None of them sees collaborative (ID)
information: Laser's prefix is off (`prefix: none`) and there is no ID encoder.

What trains, besides Laser's suffix token (always appended after the text through
`inputs_embeds`; its last-layer state is the user/item embedding for every method here):
- `lora`: peft LoRA adapters on the frozen decoder (`r`, `lora_alpha`, `lora_dropout`,
  `target_modules`; defaults r=8, alpha=16, dropout 0.05 on q_proj/v_proj). "all-linear"
  is resolved to the names of the decoder's own nn.Linear layers (the decoder has no LM head).
- `full_ft`: every decoder weight. Weights load in fp32 (`dtype: fp32`): with bf16 weights,
  Adam steps of 1e-5 fall below bf16 resolution and are lost; bf16 autocast still applies.
- `prompt_tuning`: peft prompt tuning, `num_virtual_tokens` trainable input embeddings that peft
  prepends to `inputs_embeds` ahead of the text; the hidden states then start with those
  positions, so the read-out position shifts by `num_virtual_tokens` (LaserModel's
  `leading_positions`). Initialised from randomly sampled vocabulary embeddings
  (`prompt_tuning_init: sample_vocab`, peft's SAMPLE_VOCAB) or peft's N(0, 1) (`random`).
- `prefix_tuning`: peft prefix tuning (P-tuning v2): trainable keys and values for
  `num_virtual_tokens` positions in every layer, passed as the cache (`past_key_values`), so
  the text's positions start at `num_virtual_tokens` and the returned hidden states cover the
  inputs only: the read-out position does not shift. For grouped-query attention peft sizes
  each key/value as num_key_value_heads x head_dim (not hidden). `prefix_projection` adds
  P-tuning v2's optional MLP reparameterisation (counted as trainable).

The LLM is wrapped as a peft feature-extraction model around the decoder alone (hidden
states, no LM head); right-padded batches need no attention mask (causal attention, the
read-out gathers each row's own suffix position), exactly as for Laser.

Profiles: both start from Laser's `paper` / `cpu` profile (history, epochs, rows, batch,
validation users), minus its M-Former and ID-encoder keys, which are rejected here. Learning
rates (untuned here; stated so every table can say so):
- lora: Laser's (paper 1e-4, cpu 1e-3).
- full_ft: paper 1e-5; cpu 5e-5, each decaying to a tenth (Laser's cpu profile raises its lr 10x to learn in ~120 steps;
  moving all 135M weights by 1e-4 per Adam step is at the edge of stability, so 5x).
- prompt_tuning: 3e-2 (peft's prompt-tuning examples); prefix_tuning: 1e-2 (the top of
  P-tuning v2's range); the same in both profiles, already at the high end.
- num_virtual_tokens: Laser's prefix length in each profile (paper 32, cpu 4), so the
  virtual-token budget matches Laser's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bench.configs import from_mapping
from bench.errors import UserError, unknown
from laser.config import PROFILES as LASER_PROFILES
from laser.config import LaserConfig
from laser.method import LaserMethod

# Laser's collaborative parts: not settings of a method that sees no IDs
LASER_ONLY = (
    "prefix", "moe", "experts", "queries", "top_k", "mformer_hidden", "mformer_heads", "mformer_blocks", "balance_weight", "id_encoder", "id_encoder_config",
    "id_history", "mformer_init", "pretrain_epochs", "pretrain_lr", "pretrain_batch_size", "pretrain_top_k", "pretrain_dim", "pretrain_text_tokens",
)


@dataclass(frozen=True)
class LoraBaselineConfig(LaserConfig):
    r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: list | str = field(default_factory=lambda: ["q_proj", "v_proj"])  # or "all-linear"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.r, int) or isinstance(self.r, bool) or self.r <= 0:
            raise UserError(f"lora r must be a positive integer, got {self.r!r}")
        if not self.lora_alpha > 0:
            raise UserError(f"lora lora_alpha must be > 0, got {self.lora_alpha!r}")
        if not 0 <= self.lora_dropout < 1:
            raise UserError(f"lora lora_dropout must be in [0, 1), got {self.lora_dropout!r}")
        if isinstance(self.target_modules, str):
            if self.target_modules != "all-linear":
                raise UserError(f"lora target_modules must be a list of module names or 'all-linear', got {self.target_modules!r}")
        elif not self.target_modules or not all(isinstance(m, str) and m for m in self.target_modules):
            raise UserError(f"lora target_modules must be a non-empty list of module names, got {self.target_modules!r}")


@dataclass(frozen=True)
class FullFTConfig(LaserConfig):
    pass


@dataclass(frozen=True)
class PromptTuningBaselineConfig(LaserConfig):
    num_virtual_tokens: int = 32
    prompt_tuning_init: str = "sample_vocab"  # sample_vocab | random

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("prompt_tuning", "num_virtual_tokens", self.num_virtual_tokens)
        if self.prompt_tuning_init not in ("sample_vocab", "random"):
            raise unknown("prompt_tuning prompt_tuning_init", self.prompt_tuning_init, ("sample_vocab", "random"))


@dataclass(frozen=True)
class PrefixTuningBaselineConfig(LaserConfig):
    num_virtual_tokens: int = 32
    prefix_projection: bool = False
    encoder_hidden_size: int | None = None  # the projection MLP's width (None: the key/value width)

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("prefix_tuning", "num_virtual_tokens", self.num_virtual_tokens)
        if self.encoder_hidden_size is not None:
            _positive("prefix_tuning", "encoder_hidden_size", self.encoder_hidden_size)


def _positive(where: str, name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise UserError(f"{where} {name} must be a positive integer, got {value!r}")


def resolve_baseline(name: str, cls: type, profiles: Mapping[str, Mapping[str, Any]], values: Mapping[str, Any] | None):
    """Laser's profile without its collaborative keys, then the method's profile, then the explicit keys."""
    if values is not None and not isinstance(values, Mapping):
        raise UserError(f"method {name}: expected a mapping of key: value settings, got {type(values).__name__} {values!r}")
    values = dict(values or {})
    laser_only = sorted(set(values) & set(LASER_ONLY))
    if laser_only:
        raise UserError(f"method {name}: {', '.join(laser_only)} {'is a Laser setting' if len(laser_only) == 1 else 'are Laser settings'} (M-Former / ID encoder); {name} sees no collaborative IDs")
    profile = values.get("profile", "cpu")
    if profile not in LASER_PROFILES:
        raise unknown(f"{name} profile", profile, LASER_PROFILES)
    base = {k: v for k, v in LASER_PROFILES[profile].items() if k not in LASER_ONLY}
    merged = {**base, **profiles.get(profile, {}), **values, "profile": profile, "prefix": "none"}
    return from_mapping(cls, merged, f"method {name}")


def linear_module_names(module) -> list[str]:
    """The distinct leaf names of a module's nn.Linear layers (q_proj, ..., down_proj for Llama)."""
    from torch import nn

    return sorted({n.rsplit(".", 1)[-1] for n, m in module.named_modules() if isinstance(m, nn.Linear)})


class TunedLLMMethod(LaserMethod):
    """Laser's training and scoring around a tuned LLM; subclasses say what trains (`_tune`)."""

    family = "LLM-based (tuned LLM)"
    uses_collaborative_ids = False
    name: ClassVar[str] = ""
    config_class: ClassVar[type] = LaserConfig
    profiles: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def _resolve(cls, config: Mapping[str, Any] | None):
        return resolve_baseline(cls.name, cls.config_class, cls.profiles, config)

    def _tune(self, backbone) -> tuple[Any, int, bool]:
        """-> (the decoder to run, positions it prepends to inputs_embeds, whether it follows .train())."""
        raise NotImplementedError

    def _make_model(self, backbone, prompts, id_encoder):
        from laser.model import LaserModel

        decoder, leading, trains = self._tune(backbone)
        tuned = dataclasses.replace(backbone, decoder=decoder)
        return LaserModel(tuned, prompts, None, self.cfg, leading_positions=leading, backbone_trains=trains)

    def tuning_facts(self) -> dict[str, Any]:
        return {}

    def fit(self, split, ctx, id_encoder=None) -> dict[str, Any]:
        info = super().fit(split, ctx, None)
        counts = self.parameter_counts()
        info["tuning"] = {**self.tuning_facts(), "trainable": counts.trainable, "llm_side_trainable": counts.llm_side_trainable}
        return info


class LoraMethod(TunedLLMMethod):
    """LoRA adapters (peft) on the frozen LLM + Laser's suffix read-out."""

    name = "lora"
    config_class = LoraBaselineConfig
    profiles = {"paper": {}, "cpu": {}}

    def _tune(self, backbone):
        from peft import LoraConfig, TaskType, get_peft_model

        available = linear_module_names(backbone.decoder)
        if self.cfg.target_modules == "all-linear":
            targets = available
        else:
            missing = [m for m in self.cfg.target_modules if m not in available]
            if missing:
                raise UserError(f"method lora: target_modules {missing} are not linear layers of {backbone.name} (it has: {', '.join(available)})")
            targets = list(self.cfg.target_modules)
        self.target_modules = targets
        config = LoraConfig(
            task_type=TaskType.FEATURE_EXTRACTION, r=self.cfg.r, lora_alpha=self.cfg.lora_alpha,
            lora_dropout=self.cfg.lora_dropout, target_modules=targets, bias="none",
        )
        return get_peft_model(backbone.decoder, config), 0, True  # train mode: LoRA dropout

    def tuning_facts(self):
        label = f"LoRA r={self.cfg.r}, alpha={self.cfg.lora_alpha} on {', '.join(self.target_modules)} + suffix token"
        return {"label": label, "peft": "LORA", "target_modules": self.target_modules, "r": self.cfg.r, "lora_alpha": self.cfg.lora_alpha}


class FullFineTuneMethod(TunedLLMMethod):
    """Every LLM decoder weight trainable + Laser's suffix read-out."""

    name = "full_ft"
    config_class = FullFTConfig
    profiles = {"paper": {"lr": 1e-5, "min_lr": 1e-6, "dtype": "fp32"}, "cpu": {"lr": 5e-5, "min_lr": 5e-6, "dtype": "fp32"}}

    def _tune(self, backbone):
        backbone.decoder.requires_grad_(True)
        return backbone.decoder, 0, True

    def tuning_facts(self):
        return {"label": "full fine-tune + suffix token", "peft": None, "weights": "all decoder weights"}


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
