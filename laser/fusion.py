"""`laser_fusion`, an LLM-free control: a finished Laser run fused with its own frozen ID
encoder, score = z(Laser) + lambda * z(encoder), where z standardises each user's scores over
the items. Nothing is trained: the Laser run's kept weights are restored, and lambda is chosen
on validation from a small grid (ties go to the smaller lambda, so 0 - Laser alone - wins a tie).

What it tells: if the fusion is significantly above the encoder alone (the main suite's
BERT4Rec row is the same model: the cpu profile's encoder settings equal the suite's), Laser's
text path knows something the encoder does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.configs import from_mapping
from bench.errors import UserError
from bench.methods import FitContext, Method, ParameterCounts


@dataclass(frozen=True)
class FusionConfig:
    laser: dict = field(default_factory=lambda: {"profile": "cpu"})  # the Laser run to fuse: its config as the suite writes it
    lambdas: list = field(default_factory=lambda: [0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0])
    batch_size: int = 128  # users scored at once (two [B, items] score matrices)

    def __post_init__(self) -> None:
        if not self.lambdas or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in self.lambdas):
            raise UserError(f"lambdas must be a non-empty list of numbers >= 0, got {self.lambdas!r}")


def standardised(scores):
    """Each row's item scores (column 0, the padding item, left out) to mean 0 and std 1."""
    items = scores[:, 1:]
    out = scores.clone()
    out[:, 1:] = (items - items.mean(1, keepdim=True)) / items.std(1, keepdim=True).clamp_min(1e-12)
    out[:, 0] = float("-inf")
    return out


def fused(laser, encoder, lam: float):
    """z(Laser) + lam * z(encoder), the padding column kept at -inf (0 * -inf would be NaN)."""
    out = laser.clone()
    out[:, 1:] += lam * encoder[:, 1:]
    return out


class LaserFusionMethod(Method):
    family = "control"
    uses_collaborative_ids = True
    version = 1
    after = ("laser",)

    def __init__(self, config: Mapping[str, Any] | None = None, backbone=None) -> None:
        from laser.method import LaserMethod

        self.cfg = from_mapping(FusionConfig, config, "method laser_fusion")
        try:
            self.laser = LaserMethod(self.cfg.laser, backbone=backbone)
        except UserError as exc:
            raise UserError(f"laser_fusion laser: {exc}") from None
        if self.laser.cfg.prefix == "none":
            raise UserError("laser_fusion laser: a Laser variant without a prefix has no ID encoder to fuse with")
        self.lam: float | None = None

    @classmethod
    def config_for_fraction(cls, config, scale: int):
        from laser.method import LaserMethod

        return {**config, "laser": dict(LaserMethod.config_for_fraction(config.get("laser", FusionConfig().laser), scale))}  # the fused run's

    @classmethod
    def config_with_llm(cls, config, llm: str):
        return {**config, "laser": {**config.get("laser", FusionConfig().laser), "llm": llm}}  # the fused Laser run's LLM

    def resolved_config(self) -> dict[str, Any]:
        return {"laser": self.laser.resolved_config(), "lambdas": [float(v) for v in self.cfg.lambdas], "batch_size": self.cfg.batch_size}

    def preflight(self) -> None:
        self.laser.preflight()

    def _parts(self, histories: Sequence[Sequence[int]]):
        """Both standardised score matrices for `histories`."""
        return standardised(self.laser.score(histories)), standardised(self.laser.id_method.score(histories))

    def fit(self, split, ctx: FitContext) -> dict[str, Any]:
        import numpy as np
        import torch

        from bench import progress as bars
        from bench.metrics import metrics_from_ranks, ranks_from_scores

        self.laser.restore(split, ctx, ctx.kept_weights_of("laser", self.cfg.laser))
        histories, targets = split.histories("valid"), split.targets("valid")
        lambdas = sorted(float(v) for v in self.cfg.lambdas)
        ranks: dict[float, list] = {lam: [] for lam in lambdas}
        encoder_ranks = []
        with torch.inference_mode():
            for start in bars.bar(range(0, len(histories), self.cfg.batch_size), desc="fusion validation", unit="chunk", disable=not ctx.progress):
                chunk = slice(start, start + self.cfg.batch_size)
                laser, encoder = self._parts(histories[chunk])
                for lam in lambdas:
                    ranks[lam].append(ranks_from_scores(fused(laser, encoder, lam), targets[chunk]))
                encoder_ranks.append(ranks_from_scores(encoder, targets[chunk]))
        grid = {lam: metrics_from_ranks(np.concatenate(r), ks=(10,))["ndcg@10"] for lam, r in ranks.items()}
        self.lam = max(lambdas, key=lambda lam: (grid[lam], -lam))
        return {
            "fusion": {"lambda": self.lam, "grid": {f"{lam:g}": round(v, 6) for lam, v in grid.items()}},
            "encoder_valid_ndcg@10": round(metrics_from_ranks(np.concatenate(encoder_ranks), ks=(10,))["ndcg@10"], 6),
            "best_valid_ndcg@10_subset": grid[self.lam],
            "backbone": self.laser.backbone_identity["name"],
        }

    def score(self, histories: Sequence[Sequence[int]]):
        if self.lam is None:
            raise RuntimeError("score() before fit()")
        return fused(*self._parts(list(histories)), self.lam)

    def parameter_counts(self) -> ParameterCounts:
        """Laser's own counts: the fusion trains nothing (lambda is picked from a grid)."""
        return self.laser.parameter_counts()
