"""`mformer_tower`, an LLM-free control: Laser with the LLM taken out.

The same frozen ID encoder, M-Former (its config, pre-training cache, router and balance loss),
losses, phases and schedule as Laser (the engine's loop, bench/llm/method.py), but the user
embedding is M-Former's query outputs, projected (M-Former's own output layer) and mean-pooled;
items take the same path with a one-item history, scored by cos/tau. It measures how much
M-Former alone extracts from the encoder, the part of Laser's accuracy no LLM is needed for.

The LLM is loaded only for what pre-training's random start reads (its token embeddings of the
item text, frozen) and for the prompt lengths the engine batches by; it never runs, and the
parameter counts leave it out.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from bench.errors import UserError
from bench.methods import ParameterCounts, count_parameters
from laser.method import LaserMethod
from laser.model import make_prefix


class TowerModel(nn.Module):
    def __init__(self, backbone, prompts, id_encoder, cfg) -> None:
        super().__init__()
        self.prefix = make_prefix(cfg, id_encoder, backbone.hidden_size)
        self.id_encoder = id_encoder  # frozen, kept in eval mode
        self.prompts = prompts
        self.cfg = cfg
        # not submodules: frozen inputs of pre-training's text path, not part of the tower
        self.__dict__["embed"] = backbone.embeddings
        self.__dict__["backbone"] = SimpleNamespace(config=backbone.decoder.config)

    @property
    def precision(self) -> dict[str, str]:
        """What the record says it trained in: the LLM never runs, M-Former and the ID encoder compute in fp32."""
        return {"dtype": "fp32", "autocast": "off"}

    @property
    def side_history(self) -> int:
        return self.id_encoder.history

    def train(self, mode: bool = True) -> "TowerModel":
        super().train(mode)
        self.id_encoder.eval()
        return self

    def trainable_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    def llm_side_parameters(self) -> None:
        return None  # nothing lives in an LLM's input space

    def forward(self, histories):
        return self.encode(histories)

    def encode(self, histories):
        """-> (embeddings [B, d], balance loss, chosen experts): the pooled, projected queries."""
        states, valid = self.id_encoder(histories)
        queries, balance, chosen = self.prefix(states, valid)
        return queries.mean(1).float(), balance, chosen

    def encode_items(self, n_items: int, batch_size: int = 64, progress: bool = False) -> torch.Tensor:
        """Every item as a one-item history; row 0 is padding (zeros)."""
        from bench import progress as bars

        was_training = self.training
        self.eval()
        rows = []
        with torch.inference_mode():
            for start in bars.bar(range(1, n_items + 1, batch_size), desc="item encoding", unit="batch", disable=not progress):
                rows.append(self.encode([[i] for i in range(start, min(start + batch_size, n_items + 1))])[0])
        self.train(was_training)
        matrix = torch.cat(rows)
        return torch.cat([matrix.new_zeros(1, matrix.shape[1]), matrix])


class MFormerTowerMethod(LaserMethod):
    family = "control"
    version = 1
    llm_backbone = False  # the LLM is loaded for pre-training's text features, never run
    probes = ("id_shuffled", "item_id_shuffled", "id_mean")  # no text to probe

    def __init__(self, config=None, backbone=None) -> None:
        super().__init__(config, backbone)
        if self.cfg.prefix != "mformer":
            raise UserError(f"mformer_tower needs prefix: mformer (got {self.cfg.prefix!r}): the tower is M-Former")

    def _make_model(self, backbone, prompts, id_encoder):
        return TowerModel(backbone, prompts, id_encoder, self.cfg)

    def parameter_counts(self) -> ParameterCounts:
        """The tower as it scores: M-Former (trainable) and the frozen ID encoder."""
        return count_parameters(self.model)

    def _analysis(self, split) -> dict[str, Any]:
        return self._expert_usage(split)
