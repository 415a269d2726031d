"""M-Former pre-training: behaviour-text contrastive learning, no LLM (the released code's first
step, `translator_qformer_arxiv.py`, BLIP-2's image-text contrastive loss with a user's
behaviour in place of the image).

A row is a training prefix: the ID encoder's states of its last `id_history` items are the
behaviour, the text of the item that follows is the text. (The released code's data loader is
not in the repository; we pair a behaviour with its next item's text so the queries learn to
pull from the collaborative states what describes the next item.) The top-`pretrain_top_k`
experts' query outputs are projected to `pretrain_dim`, L2-normalised and mixed by their gate
weights; the text's first-position state is projected and normalised. Similarities are the max
over query tokens, divided by a learnable temperature (init 0.07, clamped to [0.001, 0.5] as in
BLIP-2); the loss is cross-entropy with label smoothing 0.1 in both directions over in-batch
negatives, plus `balance_weight` x the MoE balance loss. Rows of the batch whose next item is
the same item are not counted as each other's negatives.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from bench import progress as bars


class PretrainHeads(nn.Module):
    """What pre-training adds around the M-Former and discards afterwards."""

    def __init__(self, text_path: nn.Module, hidden: int, dim: int) -> None:
        super().__init__()
        self.text_path = text_path
        self.behaviour_proj = nn.Linear(hidden, dim)
        self.text_proj = nn.Linear(hidden, dim)
        self.temp = nn.Parameter(torch.tensor(0.07))


def itc_loss(behaviour: torch.Tensor, text: torch.Tensor, temp: torch.Tensor, same: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """behaviour [B, L, D] and text [B, D], both normalised; `same` [B, B] marks pairs of rows with
    the same text item (excluded as negatives, the diagonal kept)."""
    sim = torch.einsum("bld,cd->bcl", behaviour, text).max(-1).values / temp  # [B behaviour, B text]
    off_diagonal_same = same & ~torch.eye(len(same), dtype=torch.bool, device=same.device)
    targets = torch.arange(len(sim), device=sim.device)
    b2t = sim.masked_fill(off_diagonal_same, float("-inf"))
    t2b = sim.T.masked_fill(off_diagonal_same, float("-inf"))
    return (_smoothed_ce(b2t, targets, smoothing) + _smoothed_ce(t2b, targets, smoothing)) / 2


def _smoothed_ce(logits: torch.Tensor, targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Label smoothing over the allowed (finite) columns only: torch's would put mass on -inf ones."""
    logp = logits.log_softmax(-1)
    allowed = logits.isfinite()
    nll = -logp.gather(1, targets[:, None]).squeeze(1)
    uniform = -(logp.masked_fill(~allowed, 0).sum(-1) / allowed.sum(-1))
    return ((1 - smoothing) * nll + smoothing * uniform).mean()


def step_loss(mformer, heads: PretrainHeads, id_encoder, histories: Sequence[Sequence[int]], items: torch.Tensor, top_k: int, balance_weight: float) -> tuple[torch.Tensor, float, float]:
    """-> (loss, contrastive part, balance part) for one batch."""
    states, valid = id_encoder(histories)
    q, weights, balance, _ = mformer.expert_outputs(states, valid, top_k)
    feats = F.normalize(heads.behaviour_proj(q), dim=-1)  # [B, k, L, D]
    behaviour = (feats * weights[..., None, None]).sum(1)
    embeds, pad = heads.text_path(items)
    text = F.normalize(heads.text_proj(mformer.encode_text(embeds, pad)), dim=-1)
    with torch.no_grad():
        heads.temp.clamp_(0.001, 0.5)
    same = items[:, None] == items[None, :]
    contrastive = itc_loss(behaviour, text, heads.temp, same)
    return contrastive + balance_weight * balance, contrastive.item(), float(balance.detach())


def pretrain_rows(train: Sequence[Sequence[int]], id_history: int, seed: int, epoch: int) -> list[tuple[tuple[int, ...], int]]:
    """Every prefix of every training sequence -> its next item (cheap without the LLM)."""
    rows = [(tuple(seq[max(0, j - id_history) : j]), seq[j]) for seq in train for j in range(1, len(seq))]
    random.Random(f"{seed}-pretrain-{epoch}").shuffle(rows)
    return rows


def pretrain(mformer, heads: PretrainHeads, id_encoder, train, cfg, seed: int, id_history: int, progress: bool = False, on_epoch=None) -> list[dict]:
    """Train the M-Former (and the discarded heads) for `cfg.pretrain_epochs`; -> per-epoch facts."""
    from transformers import get_cosine_with_min_lr_schedule_with_warmup

    params = [p for p in list(mformer.parameters()) + list(heads.parameters()) if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.pretrain_lr, weight_decay=cfg.weight_decay)
    bs = cfg.pretrain_batch_size
    per_epoch = math.ceil(sum(max(len(seq) - 1, 0) for seq in train) / bs)  # len(pretrain_rows(...)) without building them
    total = per_epoch * cfg.pretrain_epochs
    schedule = get_cosine_with_min_lr_schedule_with_warmup(
        optimizer, min(cfg.warmup_steps, total // 10), total, min_lr=min(cfg.min_lr, cfg.pretrain_lr)
    )
    mformer.train()
    heads.train()
    curve = []
    device = next(mformer.parameters()).device
    for epoch in range(cfg.pretrain_epochs):
        torch.manual_seed(seed * 1000 + epoch)
        rows = pretrain_rows(train, id_history, seed, epoch)
        t0, sums, n = time.perf_counter(), [0.0, 0.0], 0
        for start in bars.bar(range(0, len(rows), bs), desc=f"M-Former pre-training epoch {epoch}", unit="batch", disable=not progress):
            batch = rows[start : start + bs]
            if len(batch) < 2:
                continue  # a contrastive loss needs negatives
            items = torch.tensor([t for _, t in batch], device=device)
            loss, contrastive, balance = step_loss(mformer, heads, id_encoder, [h for h, _ in batch], items, cfg.pretrain_top_k, cfg.balance_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            sums[0] += contrastive * len(batch)
            sums[1] += balance * len(batch)
            n += len(batch)
        entry = {"epoch": epoch, "loss": sums[0] / max(n, 1), "balance": sums[1] / max(n, 1), "rows": n, "train_s": round(time.perf_counter() - t0, 1), "temperature": float(heads.temp.detach())}
        curve.append(entry)
        if on_epoch:
            on_epoch({"pretrain_epoch": epoch, "loss": entry["loss"], "in_batch_chance": math.log(bs)})
    return curve
