"""Numbers that say whether training moves anything, recorded per epoch of every LLM run.

- The item matrix's mean pairwise cosine and effective rank (Roy & Vetterli 2007: exp of the
  entropy of the normalised singular values). Untrained LLM item embeddings are nearly
  collinear (mean cosine ~0.98 on SmolLM2): a falling cosine and a rising rank show the item
  side spreading out.
- The cross-entropies a full-softmax loss is read against: ln(n_items), a uniform guess, and
  MostPop's, the training rows' targets under add-one smoothed popularity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def matrix_stats(items: torch.Tensor) -> dict[str, float]:
    """`items` [n_items + 1, d] with row 0 the padding item."""
    x = torch.nn.functional.normalize(items[1:].float(), dim=-1)
    n = x.shape[0]
    total = x.sum(0)
    mean_cos = (float(total @ total) - n) / (n * (n - 1)) if n > 1 else 1.0
    s = torch.linalg.svdvals(x.double())
    p = s / s.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"mean_cosine": round(mean_cos, 4), "effective_rank": round(float(entropy.exp()), 2)}


def mostpop_cross_entropy(counts: Sequence[int], targets: Sequence[int]) -> float:
    """Mean -log p(target) under add-one smoothed popularity over items 1..n (counts[0]: padding)."""
    counts = torch.as_tensor(counts, dtype=torch.float64)[1:] + 1
    logp = counts.log() - math.log(float(counts.sum()))
    idx = torch.as_tensor(list(targets), dtype=torch.long) - 1
    return round(float(-logp[idx].mean()), 4)
