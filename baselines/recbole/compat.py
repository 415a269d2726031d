"""Every RecBole 1.2.1 compatibility fix, in one place, applied only inside `recbole_context()`.

What breaks on today's stack and what we do about it (see shared notes, stack.md):
- numpy 2 removed `np.float_`, `np.complex_`, `np.unicode_`, which RecBole's Config uses to
  re-add `np.float`, `np.int`, ... (its evaluator then uses `np.float`). We add the aliases
  for the duration of the block and remove everything RecBole added afterwards, so no other
  code ever sees a patched numpy.
- RecBole's Config parses `sys.argv` (it would read our own CLI flags) and sets
  CUDA_VISIBLE_DEVICES: argv is emptied and the environment restored around the block.
- The Trainer writes tensorboard files to ./log_tensorboard: redirected into the run's folder.
- torch >= 2.6 defaults `torch.load(weights_only=True)`, which RecBole's own checkpoints fail:
  we never let RecBole reload; `load_recbole_checkpoint` passes weights_only=False for
  RecBole's own files only.
- pandas 3 breaks token_seq item fields: pyproject pins pandas<3.
- Importing RecBole's model package runs `torch.autograd.set_detect_anomaly(True)` at the top
  of its SINE module, process-wide: every later backward pass (RecBole's, Laser's, the LLM
  baselines') then checks each gradient for NaN and records a stack per op, which cost Laser
  ~30% of its step time. We import the package inside the block and put the caller's
  anomaly setting back at once and again on exit.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

_NUMPY_ALIASES = {
    "float_": "float64",
    "complex_": "complex128",
    "unicode_": "str_",
    "bool": "bool_",
    "int": "int_",
    "float": "float64",
    "complex": "complex128",
    "object": "object_",
    "str": "str_",
    "unicode": "str_",
}


@contextlib.contextmanager
def recbole_context(workdir: Path) -> Iterator[None]:
    import numpy as np
    import torch

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    missing = [name for name in _NUMPY_ALIASES if name not in np.__dict__]
    anomaly = torch.is_anomaly_enabled()
    saved_argv, saved_env = sys.argv, dict(os.environ)
    for name in missing:
        setattr(np, name, getattr(np, _NUMPY_ALIASES[name]))

    def tensorboard(logger):
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(workdir / "tensorboard"))

    try:
        sys.argv = sys.argv[:1]
        with warnings.catch_warnings(), mock.patch("recbole.trainer.trainer.get_tensorboard", tensorboard):
            # RecBole's pandas/amp deprecation chatter says nothing about our runs
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            import recbole.model.sequential_recommender  # noqa: F401  (its import flips anomaly mode on)

            torch.autograd.set_detect_anomaly(anomaly)
            yield
    finally:
        torch.autograd.set_detect_anomaly(anomaly)
        sys.argv = saved_argv
        for name in missing:
            if name in np.__dict__:
                delattr(np, name)
        if dict(os.environ) != saved_env:
            os.environ.clear()
            os.environ.update(saved_env)


def load_recbole_checkpoint(path: Path) -> dict:
    """RecBole's own checkpoint files hold its Config object, so they need full unpickling."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)
