"""The frozen ID-based encoder: a trained RecBole BERT4Rec/SASRec giving per-item states C_u.

It stays frozen and in eval mode even when a parent module calls `.train()`.

`next_state` (BERT4Rec): the history is followed by BERT4Rec's [MASK] token, as BERT4Rec itself
does to predict (RecBole's `reconstruct_test_data`), so the states end with the one BERT4Rec
scores the next item from; the observed items' states alone never carry it. SASRec's last
state already is its next-item state, so the flag changes nothing there.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class FrozenIdEncoder(nn.Module):
    def __init__(self, recbole_method, history: int, next_state: bool = False) -> None:
        super().__init__()
        self.model = recbole_method.model
        self.model.requires_grad_(False)
        self.model.eval()
        # on the model's device: RecBole builds it where CUDA is, the index is made on the CPU
        device = next(self.model.parameters()).device
        self.register_buffer("index", recbole_method.item_index.to(device, copy=True), persistent=False)
        self.kind = recbole_method.model_name
        self.history = history
        self.next_state = self.appends_mask(self.kind, next_state)
        self.dim = int(self.model.item_embedding.weight.shape[1])
        # attribution probes (laser/method.py): which histories the encoder reads instead, and
        # one state put in place of every state; None for the real input
        self.history_map = None
        self.constant_state = None

    @staticmethod
    def appends_mask(kind: str, next_state: bool) -> bool:
        """Whether `next_state` adds a [MASK] position: BERT4Rec only (the caller sizes the
        window before the encoder exists)."""
        return next_state and kind == "BERT4Rec"

    def train(self, mode: bool = True) -> "FrozenIdEncoder":
        return super().train(False)  # dropout in a frozen encoder would only add noise

    def forward(self, histories: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> states [B, N, d], valid [B, N] for the last `history` items (then the [MASK]
        state with `next_state`), left-aligned."""
        if self.history_map is not None:
            histories = self.history_map(histories)
        extra = int(self.next_state)
        n = max(max(min(len(h), self.history) for h in histories), 1) + extra
        seq = torch.zeros(len(histories), n, dtype=torch.long, device=self.index.device)
        for r, h in enumerate(histories):
            h = list(h)[-self.history :]
            seq[r, : len(h)] = self.index[torch.tensor(h, device=self.index.device)]
            if extra:
                seq[r, len(h)] = self.model.mask_token
        valid = seq > 0
        with torch.no_grad():
            states = self._states(seq)
        if self.constant_state is not None:
            states = self.constant_state.to(states.dtype).expand(*states.shape)
        return states, valid

    def _states(self, seq: torch.Tensor) -> torch.Tensor:
        m = self.model
        if self.kind == "BERT4Rec":
            return m.forward(seq)
        # SASRec: the encoder output at every position rather than only the last one
        pos = torch.arange(seq.size(1), device=seq.device).unsqueeze(0).expand_as(seq)
        h = m.dropout(m.LayerNorm(m.item_embedding(seq) + m.position_embedding(pos)))
        return m.trm_encoder(h, m.get_attention_mask(seq), output_all_encoded_layers=True)[-1]
