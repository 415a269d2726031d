"""What may be committed under results/: small JSON records and kept weights of at most 5 MB
(never checkpoints, caches, model weights of a fine-tuned LLM, or copies of licensed data)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 5 * 1024 * 1024


def test_committed_results_are_small_records_and_small_kept_weights():
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert tracked, "no committed results"
    for name in tracked:
        path = ROOT / name
        assert path.suffix in (".json", ".pt"), f"{name}: only run records and kept weights belong under results/"
        assert name.startswith(("results/runs/", "results/weights/")), name
        assert path.stat().st_size <= LIMIT, f"{name}: {path.stat().st_size} bytes, over the 5 MB a committed file may have"
