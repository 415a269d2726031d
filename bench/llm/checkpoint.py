"""Per-epoch training checkpoints (trainable weights, optimizer, loop state), written atomically.

A workdir holds `checkpoint.pt` (the last finished epoch) and `checkpoint.prev.pt` (the one
before it). A checkpoint that cannot be read (truncated by a full disk, a power cut before the
file reached the disk, a bad copy) is set aside as `checkpoint.pt.corrupt` with a warning, and
training resumes from the previous one; with no readable checkpoint left it starts over. Every
random draw is seeded per (phase, epoch), so either way the finished run equals an
uninterrupted one: only time is lost.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.io import atomic_path, fsync_file

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_NAME = "checkpoint.prev.pt"
# the name before the engine was shared by every LLM method; a run interrupted then still resumes
LEGACY_NAME = "laser-checkpoint.pt"
# the blob's layout; files without a `format` key predate it and have format 1's layout
CHECKPOINT_FORMAT = 1


class CheckpointWarning(UserWarning):
    """A checkpoint could not be read and an older state (or a fresh start) is used instead."""


def trainable_state(model) -> dict:
    """Detached copies of the parameters that train; the frozen LLM and ID encoder are never saved."""
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k in trainable}


class EpochCheckpoint:
    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.path = self.workdir / CHECKPOINT_NAME
        self.previous = self.workdir / PREVIOUS_NAME
        self.legacy = self.workdir / LEGACY_NAME
        self.notes: list[str] = []  # what load() recovered from, for the run record

    def save(self, model, optimizer, state: dict[str, Any]) -> None:
        import torch

        blob = {
            "format": CHECKPOINT_FORMAT,
            "weights": trainable_state(model),
            "optimizer": optimizer.state_dict(),
            "state": state,
            "rng": torch.get_rng_state(),
        }
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as fh:
                torch.save(blob, fh)
                fsync_file(fh)
            # the new file is complete on disk before the last good one steps back; a kill
            # between the two renames leaves only the previous file, which load() reads
            for older in (self.path, self.legacy):
                if older.exists():
                    os.replace(older, self.previous)
                    break

    def load(self, model) -> tuple[dict[str, Any], dict] | None:
        """-> (loop state, optimizer state) with the weights and torch RNG restored, or None to
        start over. The optimizer state is the caller's to load: each training phase has its own
        optimizer. An unreadable file is set aside with a warning (CheckpointWarning) and the
        next older one is tried; a file of another format is refused (UserError)."""
        import torch

        for path in (self.path, self.previous, self.legacy):
            if not path.exists():
                continue
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                if not isinstance(blob, dict) or not {"weights", "optimizer", "state", "rng"} <= blob.keys():
                    raise ValueError("not a training checkpoint")
            except Exception as exc:
                self._set_aside(path, exc)
                continue
            found = blob.get("format", 1)
            if found != CHECKPOINT_FORMAT:
                raise UserError(
                    f"{path}: training checkpoint format {found!r}, but this code reads format {CHECKPOINT_FORMAT}; "
                    f"resume it with the laser-bench version that wrote it, or delete {self.workdir} to restart this run from its first epoch"
                )
            if self.notes:
                self._warn(f"{self.workdir}: resuming from {path.name}, an epoch earlier; the run's result is the same, only that epoch's time is lost")
            model.load_state_dict(blob["weights"], strict=False)
            torch.set_rng_state(blob["rng"])
            return blob["state"], blob["optimizer"]
        if self.notes:
            self._warn(f"{self.workdir}: no readable training checkpoint left; the run starts over from its first epoch")
        return None

    def _set_aside(self, path: Path, exc: Exception) -> None:
        corrupt = path.with_name(path.name + ".corrupt")
        try:  # kept for a post-mortem, out of save()'s way: the good previous file must not be replaced by it
            os.replace(path, corrupt)
        except FileNotFoundError:  # another process of a distributed launch moved it first
            pass
        self._warn(f"{path}: corrupt or truncated training checkpoint ({type(exc).__name__}), moved aside to {corrupt.name}")

    def _warn(self, message: str) -> None:
        self.notes.append(message)
        warnings.warn(message, CheckpointWarning, stacklevel=3)
