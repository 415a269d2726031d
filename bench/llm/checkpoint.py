"""Per-epoch training checkpoints (trainable weights, optimizer, loop state), written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.io import atomic_torch_save


def trainable_state(model) -> dict:
    """Detached copies of the parameters that train; the frozen LLM and ID encoder are never saved."""
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k in trainable}


class EpochCheckpoint:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def save(self, model, optimizer, state: dict[str, Any]) -> None:
        import torch

        self.path.parent.mkdir(parents=True, exist_ok=True)
        blob = {
            "weights": trainable_state(model),
            "optimizer": optimizer.state_dict(),
            "state": state,
            "rng": torch.get_rng_state(),
        }
        atomic_torch_save(blob, self.path)

    def load(self, model) -> tuple[dict[str, Any], dict] | None:
        """-> (loop state, optimizer state) with the weights and torch RNG restored, or None.
        The optimizer state is the caller's to load: each training phase has its own optimizer."""
        import torch

        if not self.path.exists():
            return None
        try:
            blob = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise UserError(f"{self.path}: corrupt training checkpoint ({type(exc).__name__}); delete it to restart the run") from None
        model.load_state_dict(blob["weights"], strict=False)
        torch.set_rng_state(blob["rng"])
        return blob["state"], blob["optimizer"]
