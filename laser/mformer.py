"""M-Former: a BLIP-2 Q-Former-style querying transformer with K query experts and a router.

Blocks are post-LN as in BERT/Q-Former: self-attention over the queries, cross-attention to
the ID encoder's item states in every other block (blocks 0, 2, 4, ...), feed-forward. The
router (one linear layer, ID-state dim -> K) scores each history item; softmax per item,
averaged over the valid items of the history, gives p_u; the top-k experts' query sets pass
through the blocks and their outputs are mixed with the renormalised p_u weights (k=1: the
chosen expert's output). The gate weight multiplies the output, so the router learns through
the IIC loss as well as the balance loss (Switch Transformer style).

Balance loss (Switch): K * sum_j f_j * P_j, f_j = fraction of valid history items whose
argmax expert is j, P_j = mean router probability of expert j over valid history items.
"""

from __future__ import annotations

import torch
from torch import nn


class MFormerBlock(nn.Module):
    def __init__(self, hidden: int, heads: int, id_dim: int, cross: bool, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.ln1 = nn.LayerNorm(hidden)
        self.cross_attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, kdim=id_dim, vdim=id_dim, batch_first=True) if cross else None
        self.ln2 = nn.LayerNorm(hidden) if cross else None
        self.ffn = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, hidden), nn.Dropout(dropout))
        self.ln3 = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, q: torch.Tensor, states: torch.Tensor | None, pad: torch.Tensor | None, self_pad: torch.Tensor | None = None) -> torch.Tensor:
        """`states` None: the text path of pre-training (self-attention and feed-forward only,
        `self_pad` masking the text's padding), as BLIP-2's Q-Former shares them with its text encoder."""
        q = self.ln1(q + self.drop(self.self_attn(q, q, q, key_padding_mask=self_pad, need_weights=False)[0]))
        if self.cross_attn is not None and states is not None:
            q = self.ln2(q + self.drop(self.cross_attn(q, states, states, key_padding_mask=pad, need_weights=False)[0]))
        return self.ln3(q + self.ffn(q))


class MFormer(nn.Module):
    def __init__(
        self,
        id_dim: int,
        llm_hidden: int,
        hidden: int = 768,
        heads: int = 12,
        blocks: int = 12,
        experts: int = 8,
        queries: int = 32,
        top_k: int = 1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if not 1 <= top_k <= experts:
            raise ValueError(f"top_k must be in 1..experts ({experts}), got {top_k}")
        self.experts, self.top_k = experts, top_k
        self.queries = nn.Parameter(torch.randn(experts, queries, hidden) * 0.02)
        self.router = nn.Linear(id_dim, experts) if experts > 1 else None
        self.blocks = nn.ModuleList(MFormerBlock(hidden, heads, id_dim, cross=(i % 2 == 0), dropout=dropout) for i in range(blocks))
        self.proj = nn.Linear(hidden, llm_hidden)

    def route(self, states: torch.Tensor, valid: torch.Tensor):
        """-> (per-item router probs [B, N, K], per-user mean probs p_u [B, K])."""
        probs = torch.softmax(self.router(states), dim=-1) * valid[..., None]
        p_user = probs.sum(1) / valid.sum(1, keepdim=True).clamp(min=1)
        return probs, p_user

    def balance_loss(self, probs: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        n = valid.sum().clamp(min=1)
        f = nn.functional.one_hot(probs.argmax(-1), self.experts).float().mul(valid[..., None]).sum((0, 1)) / n
        P = probs.sum((0, 1)) / n
        return self.experts * (f * P).sum()

    def expert_outputs(self, states: torch.Tensor, valid: torch.Tensor, top_k: int):
        """-> (outputs of the top-k experts' queries [B, k, L, H], their renormalised gate weights
        [B, k], balance loss, chosen experts [B, k])."""
        B = states.shape[0]
        pad = ~valid
        if self.router is None:
            chosen = torch.zeros(B, 1, dtype=torch.long, device=states.device)
            weights = torch.ones(B, 1, device=states.device)
            balance = states.new_zeros(())
        else:
            probs, p_user = self.route(states, valid.float())
            top, chosen = p_user.topk(min(top_k, self.experts), dim=-1)
            weights = top / top.sum(-1, keepdim=True).detach() if chosen.shape[1] > 1 else top
            balance = self.balance_loss(probs, valid.float())
        k = chosen.shape[1]
        q = self.queries[chosen.reshape(-1)]  # [B*k, L, H]
        rep = lambda t: t.repeat_interleave(k, dim=0)  # noqa: E731
        s, p = rep(states), rep(pad)
        for block in self.blocks:
            q = block(q, s, p)
        return q.view(B, k, *q.shape[1:]), weights, balance, chosen

    def encode_text(self, embeds: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """Pre-training's text path through the same blocks (no cross-attention) -> the first position's state."""
        h = embeds
        for block in self.blocks:
            h = block(h, None, None, self_pad=pad)
        return h[:, 0]

    def forward(self, states: torch.Tensor, valid: torch.Tensor):
        """states [B, N, id_dim], valid [B, N] bool -> (prefix [B, L, llm_hidden], balance loss, chosen experts [B, k])."""
        q, weights, balance, chosen = self.expert_outputs(states, valid, self.top_k)
        mixed = (q * weights[..., None, None].to(q.dtype)).sum(1)
        return self.proj(mixed), balance, chosen


class LinearPrefix(nn.Module):
    """Ablation `no_mformer`: the ID encoder's item states projected straight into prefix tokens."""

    def __init__(self, id_dim: int, llm_hidden: int) -> None:
        super().__init__()
        self.proj = nn.Linear(id_dim, llm_hidden)

    def forward(self, states: torch.Tensor, valid: torch.Tensor):
        return self.proj(states), states.new_zeros(()), None
