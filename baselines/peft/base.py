"""What the LLM baselines share: `TunedLLMMethod`, a method on the engine (bench/llm/) that
tunes the LLM itself instead of adding a collaborative prefix.

Everything but what trains is the engine's, as for Laser: the prompt template, the suffix-token
read-out, cos/tau scoring against the item matrix, the loss, the pipeline (phase 1 with item
gradient, phase 2 on the frozen item matrix; no pre-training: there is no M-Former), epoch
selection on validation users only, per-epoch checkpoints and resume, and
`parameter_counts`. None of them sees collaborative (ID) information.

The LLM is wrapped as a peft feature-extraction model around the decoder alone (hidden states,
no LM head); right-padded batches need no attention mask (causal attention, the read-out
gathers each row's own suffix position), exactly as for Laser.

Profiles: each starts from the engine's `paper` / `cpu` profile (history, epochs, rows, batch,
validation users, learning rate), then its own layer (`profiles`). Learning rates, each
decaying to a tenth by a cosine schedule:
- lora: paper 1e-4 (the engine's); cpu 3e-3, chosen on validation (seed 0, kept NDCG@10 over all
  users) from 3e-4 / 1e-3 / 3e-3 / 1e-2: four validation runs, against the three that chose
  Laser's profile (experiment log: reports/experiments/README.md, "The baselines'
  learning-rate sweep").
- full_ft: paper 1e-5; cpu 1.5e-4, chosen the same way from 1.5e-5 / 5e-5 / 1.5e-4 / 5e-4.
- prompt_tuning: 3e-2 (peft's prompt-tuning examples); prefix_tuning: 1e-2 (the top of
  P-tuning v2's range); the same in both profiles, already at the high end.
- num_virtual_tokens: Laser's prefix length in each profile (paper 32, cpu 4), so the
  virtual-token budget matches Laser's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from bench.errors import UserError
from bench.llm.config import LLMConfig, resolve_profile
from bench.llm.config import positive_int as positive
from bench.llm.method import LLMMethod

# Laser's own settings (M-Former, pre-training, ID encoder): a baseline config given one is told
# it is a Laser setting rather than an unknown key
LASER_SETTINGS = (
    "prefix", "moe", "experts", "queries", "top_k", "mformer_hidden", "mformer_heads", "mformer_blocks", "balance_weight", "mformer_init",
    "pretrain_epochs", "pretrain_lr", "pretrain_batch_size", "pretrain_top_k", "pretrain_dim", "pretrain_text_tokens", "id_history",
    "id_encoder", "id_encoder_config",
)


class TunedLLMMethod(LLMMethod):
    """The engine's training and scoring around a tuned LLM; subclasses say what trains (`_tune`)."""

    family = "LLM-based (tuned LLM)"
    uses_collaborative_ids = False
    version = 2  # 2: the released code's pipeline through the engine (as Laser's version 2)
    name: ClassVar[str] = ""
    config_class: ClassVar[type] = LLMConfig
    profiles: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def _resolve(cls, config: Mapping[str, Any] | None):
        if isinstance(config, Mapping):
            laser = sorted(set(config) & set(LASER_SETTINGS))
            if laser:
                raise UserError(
                    f"method {cls.name}: {', '.join(laser)} {'is a Laser setting' if len(laser) == 1 else 'are Laser settings'} "
                    f"(M-Former / ID encoder); {cls.name} sees no collaborative IDs"
                )
        return resolve_profile(cls.config_class, f"method {cls.name}", config, cls.profiles)

    def _tune(self, backbone) -> tuple[Any, int, bool]:
        """-> (the decoder to run, positions it prepends to inputs_embeds, whether it follows .train())."""
        raise NotImplementedError

    def _make_model(self, backbone, prompts, side_inputs):
        from bench.llm.model import SuffixModel

        decoder, leading, trains = self._tune(backbone)
        tuned = dataclasses.replace(backbone, decoder=decoder)
        return SuffixModel(tuned, prompts, self.cfg, leading_positions=leading, backbone_trains=trains)

    def tuning_facts(self) -> dict[str, Any]:
        return {}

    def fit(self, split, ctx, side_inputs=None) -> dict[str, Any]:
        info = super().fit(split, ctx, None)
        counts = self.parameter_counts()
        info["tuning"] = {**self.tuning_facts(), "trainable": counts.trainable, "llm_side_trainable": counts.llm_side_trainable}
        return info
