"""The one full-ranking evaluator: per-user ranks from a score matrix; every metric derives from them.

Rank of the target = number of real items whose score is >= the target's score, so ties count
against the target (a model that scores everything equal gets the worst rank, not the best).
Column 0 is the padding item and never competes. The mean is always over all evaluated users.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_KS = (5, 10, 20)


def ranks_from_scores(scores, targets, exclude=None) -> np.ndarray:
    """scores: [B, n_items + 1] (column 0 = padding); targets: [B] item indices in 1..n_items;
    exclude: optional boolean [B, n_items + 1] of items to drop from the ranking (the target is
    never dropped). Returns int64 ranks, 1 = best."""
    import torch

    s = torch.as_tensor(scores).detach().float().clone()
    t = torch.as_tensor(np.asarray(targets), dtype=torch.long)
    if s.ndim != 2 or s.shape[0] != t.shape[0]:
        raise ValueError(f"scores {tuple(s.shape)} and targets {tuple(t.shape)} do not match")
    if int(t.min()) < 1 or int(t.max()) >= s.shape[1]:
        raise ValueError("targets must be item indices in 1..n_items")
    if torch.isnan(s).any():
        raise ValueError("scores contain NaN")
    rows = torch.arange(s.shape[0])
    target_scores = s[rows, t].clone()
    s[:, 0] = -math.inf
    if exclude is not None:
        mask = torch.as_tensor(exclude, dtype=torch.bool).clone()
        mask[rows, t] = False
        s[mask] = -math.inf
    ranks = (s >= target_scores[:, None]).sum(dim=1)
    return ranks.numpy().astype(np.int64)


def metrics_from_ranks(ranks: Sequence[int] | np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    r = np.asarray(ranks, dtype=np.float64)
    if r.size == 0:
        raise ValueError("no users to evaluate")
    if (r < 1).any():
        raise ValueError("ranks start at 1")
    out: dict[str, float] = {}
    for k in ks:
        if k <= 0:
            raise ValueError(f"cut-off K must be positive, got {k}")
        hit = r <= k
        out[f"recall@{k}"] = float(hit.mean())
        out[f"ndcg@{k}"] = float(np.where(hit, 1.0 / np.log2(r + 1.0), 0.0).mean())
    out["mrr"] = float((1.0 / r).mean())
    return out


def per_user_metric(ranks: Sequence[int] | np.ndarray, metric: str) -> np.ndarray:
    """One metric per user, for paired significance tests."""
    r = np.asarray(ranks, dtype=np.float64)
    if metric == "mrr":
        return 1.0 / r
    name, _, k = metric.partition("@")
    k = int(k)
    if name == "recall":
        return (r <= k).astype(np.float64)
    if name == "ndcg":
        return np.where(r <= k, 1.0 / np.log2(r + 1.0), 0.0)
    raise ValueError(f"unknown metric {metric!r}")
