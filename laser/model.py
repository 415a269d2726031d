"""Laser's model: the engine's suffix model (bench/llm/model.py) with an M-Former (or, for the
`no_mformer` ablation, a linear) prefix over the frozen ID encoder's item states.

The prefix reads the ID encoder's states of the history; item embeddings take the same path as
users with a one-item history, so M-Former reads the state of that single item.
"""

from __future__ import annotations

from bench.llm.model import SuffixModel
from laser.mformer import LinearPrefix, MFormer


def make_prefix(cfg, id_encoder, hidden_size: int):
    """The prefix module of `cfg.prefix` (None for `none`)."""
    if cfg.prefix == "mformer":
        return MFormer(
            id_encoder.dim, hidden_size, hidden=cfg.mformer_hidden, heads=cfg.mformer_heads, blocks=cfg.mformer_blocks,
            experts=cfg.experts if cfg.moe else 1, queries=cfg.queries, top_k=cfg.top_k if cfg.moe else 1,
        )
    if cfg.prefix == "linear":
        return LinearPrefix(id_encoder.dim, hidden_size)
    return None


class LaserModel(SuffixModel):
    def __init__(self, backbone, prompts, id_encoder, cfg) -> None:
        super().__init__(backbone, prompts, cfg, prefix=make_prefix(cfg, id_encoder, backbone.hidden_size) if id_encoder is not None else None)
        self.id_encoder = id_encoder  # frozen, kept in eval mode

    @property
    def side_history(self) -> int:
        return self.id_encoder.history if self.id_encoder is not None else 0

    def train(self, mode: bool = True) -> "LaserModel":
        super().train(mode)
        if self.id_encoder is not None:
            self.id_encoder.eval()
        return self

    def prefix_embeddings(self, histories):
        from torch.profiler import record_function

        with record_function("id_encoder"):  # named ranges: `bench perf --breakdown` reads them
            states, valid = self.id_encoder(histories)
        with record_function("m_former"):
            prefix, balance, chosen = self.prefix(states, valid)
        if isinstance(self.prefix, LinearPrefix):
            prefix = prefix * valid[..., None]
        return prefix, balance, chosen

    def prefix_tokens(self) -> int:
        if isinstance(self.prefix, MFormer):
            return self.prefix.queries.shape[1]
        return self.id_encoder.history  # the linear prefix: one token per history item
