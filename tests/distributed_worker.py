"""One process of the two-process gloo test (tests/test_distributed.py), started by torchrun.

Each process builds the same tiny Laser on the same ml-100k slice, trains it through
`LaserMethod.fit` on its own shard of the batches, and saves its trainable weights and the
number of examples it trained on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(results: Path, out: Path) -> None:
    import torch

    from bench.data.datasets import load_dataset
    from bench.methods import FitContext
    from bench.data.splits import leave_one_out
    from bench.llm.checkpoint import CHECKPOINT_NAME, trainable_state
    from laser.method import LaserMethod
    from tests.conftest import slice_dataset
    from tests.laser_fixtures import TINY_LASER, tiny_backbone

    torch.set_num_threads(1)
    torch.manual_seed(100 + int(os.environ["RANK"]))  # different initial M-Former per process: DDP must broadcast
    split = leave_one_out(slice_dataset(load_dataset("ml-100k"), 60, max_len=25))
    method = LaserMethod({**TINY_LASER, "batch_size": 8, "phase1_epochs": 2, "phase2_epochs": 0, "lr": 1e-2}, backbone=tiny_backbone(split.dataset.item_text[1:]))
    info = method.fit(split, FitContext(workdir=results / "work", seed=0, results_root=results, progress=False))
    acc = method._accelerator
    torch.save(
        {
            "weights": trainable_state(method.model),
            "world": acc.num_processes,
            "backend": str(acc.distributed_type),
            "examples": [e["examples"] for e in info["curve"]],
            "checkpoint_written_by_main_only": (results / "work" / CHECKPOINT_NAME).exists(),
        },
        out / f"rank{acc.process_index}.pt",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
