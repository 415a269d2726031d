"""`lora`: peft LoRA adapters on the frozen decoder (`r`, `lora_alpha`, `lora_dropout`,
`target_modules`; defaults r=8, alpha=16, dropout 0.05 on q_proj/v_proj) + the engine's suffix
read-out. "all-linear" is resolved to the names of the decoder's own nn.Linear layers (the
decoder has no LM head)."""

from __future__ import annotations

from dataclasses import dataclass, field

from baselines.peft.base import TunedLLMMethod
from bench.errors import UserError
from bench.llm.config import LLMConfig


@dataclass(frozen=True)
class LoraBaselineConfig(LLMConfig):
    where = "lora"

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


def linear_module_names(module) -> list[str]:
    """The distinct leaf names of a module's nn.Linear layers (q_proj, ..., down_proj for Llama)."""
    from torch import nn

    return sorted({n.rsplit(".", 1)[-1] for n, m in module.named_modules() if isinstance(m, nn.Linear)})


class LoraMethod(TunedLLMMethod):
    """LoRA adapters (peft) on the frozen LLM + the engine's suffix read-out."""

    name = "lora"
    config_class = LoraBaselineConfig
    profiles = {"paper": {}, "cpu": {"lr": 3e-3, "min_lr": 3e-4}}  # cpu: chosen on validation (base.py)

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
