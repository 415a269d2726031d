"""The engine's model: [prefix] + prompt text + [suffix token] through an LLM, read out at the suffix.

The prefix is a method's own module (Laser's M-Former, laser/model.py); without one this is the
LLM baselines' model. Choices where the Laser paper is silent (each is an option of `LLMConfig`):
- Sequences are right-padded; with causal attention the padding after a row's last real
  token cannot affect it, so no attention mask is needed and the read-out gathers each row's
  own last position.
- The suffix token is initialised to the mean input embedding of the LLM's vocabulary.
- Item embeddings take the same path as users with a one-item history, the prefix included
  (Laser's M-Former reads the ID encoder's state of that single item).
- Read-outs: `suffix` (paper), `mean` (mean of the text positions' last hidden states) and
  `eos` (a real EOS token appended, its state read; paper Table 5's hard [EOS]).
- The backbone runs under bf16 autocast where the hardware supports it (`autocast`).

The LLM baselines (baselines/peft/) use this model with a peft-wrapped or unfrozen backbone: `leading_positions` counts hidden-state positions the backbone itself prepends
(peft prompt tuning's virtual tokens), and `backbone_trains` lets the backbone follow
`.train()` when its own weights are tuned (LoRA dropout, full fine-tuning).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import torch
from torch import nn
from torch.profiler import record_function  # named ranges of a step: `bench perf --breakdown`


def bf16_supported() -> bool:
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class SuffixModel(nn.Module):
    """`prefix`: a module whose virtual tokens open the input (a subclass says how it reads a
    history: `prefix_embeddings`), or None."""

    side_history = 0  # items of history the prefix reads (the text shows `cfg.history`)

    def __init__(self, backbone, prompts, cfg, prefix: nn.Module | None = None, leading_positions: int = 0, backbone_trains: bool = False) -> None:
        super().__init__()
        self.backbone = backbone.decoder  # frozen for Laser, registered so .to(device) moves it
        self.leading_positions = leading_positions  # positions the backbone prepends to inputs_embeds
        self.backbone_trains = backbone_trains  # False: the backbone stays in eval mode under .train()
        self.embed = backbone.embeddings
        self.eos_id = backbone.eos_token_id
        self.prompts = prompts
        self.cfg = cfg
        self.prefix = prefix
        if cfg.readout == "suffix":
            init = mean_input_embedding(self.embed)
            self.suffix = nn.Parameter(init.repeat(cfg.suffix_tokens, 1).clone())
        else:
            self.suffix = None
        self._autocast = cfg.autocast == "bf16" or (cfg.autocast == "auto" and bf16_supported())
        # the prompt text opens the sequence: no M-Former prefix, no virtual tokens from the backbone
        text_first = cfg.cache_frozen_text and self.prefix is None and leading_positions == 0
        # suffix-only Laser: nothing trainable comes before or inside the text, so the text's
        # hidden states depend on no trainable weight (decided once: the backbone arrives tuned or frozen)
        self._text_constant = (
            text_first and self.suffix is not None and not any(p.requires_grad for p in self.backbone.parameters())
        )
        # LLM baselines and suffix-only Laser: at inference every prompt's opening head has the
        # same keys and values
        self._head_shared = text_first and cfg.readout != "mean" and len(prompts.head) > 0 and not _prompt_learning(self.backbone)

    @property
    def precision(self) -> dict[str, str]:
        """The LLM's weight dtype and its autocast, as they run on this host (`auto` resolved)."""
        names = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
        dtype = self.embed.weight.dtype
        return {"dtype": names.get(dtype, str(dtype).removeprefix("torch.")), "autocast": "bf16" if self._autocast else "off"}

    @property
    def text_constant(self) -> bool:
        """The text's hidden states depend on no trainable weight (suffix-only over a frozen
        backbone): training runs the text once without gradient (`bench perf` counts FLOPs so)."""
        return self._text_constant

    def train(self, mode: bool = True) -> "SuffixModel":
        super().train(mode)
        if not self.backbone_trains:
            self.backbone.eval()  # frozen parts never switch to training behaviour
        return self

    def prefix_embeddings(self, histories):
        """-> (prefix [B, P, d], balance loss, chosen experts or None); only with a prefix."""
        raise NotImplementedError

    def prefix_tokens(self) -> int:
        """Virtual tokens the prefix puts in the LLM's input space."""
        return 0

    def trainable_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    def llm_side_parameters(self) -> int:
        """Trainable parameters living in the LLM: the virtual tokens in its input space,
        (L + n_suffix) x hidden, plus any trainable weight inside the backbone (adapters, prompt
        encoders, or every weight when fine-tuned; none for Laser)."""
        d = self.embed.weight.shape[1]
        n_prefix = self.prefix_tokens() if self.prefix is not None else 0
        in_backbone = sum(p.numel() for p in self.backbone.parameters() if p.requires_grad)
        return (n_prefix + (self.cfg.suffix_tokens if self.suffix is not None else 0)) * d + in_backbone

    def forward(self, histories: Sequence[Sequence[int]]):
        """`encode`, as `forward` so a DDP wrapper (accelerate) can sync gradients."""
        return self.encode(histories)

    def encode(self, histories: Sequence[Sequence[int]]):
        """-> (embeddings [B, d] in fp32, balance loss, chosen experts or None)."""
        device = self.embed.weight.device
        with record_function("prompts"):
            token_ids = [self.prompts.user_ids(h) for h in histories]
        if self.cfg.readout == "eos":
            token_ids = [ids + [self.eos_id] for ids in token_ids]
        ctx = torch.autocast(device.type, dtype=torch.bfloat16) if self._autocast else nullcontext()
        if self._head_shared and not torch.is_grad_enabled():
            return self._encode_over_shared_head(token_ids, ctx), self.embed.weight.new_zeros((), dtype=torch.float32), None
        B = len(histories)
        text, lengths = self._embed_padded(token_ids)
        T = text.shape[1]
        balance, chosen, parts, offset = text.new_zeros(()), None, [], self.leading_positions
        if self.prefix is not None:
            prefix, balance, chosen = self.prefix_embeddings(histories)
            parts.append(prefix.to(text.dtype))
            offset += prefix.shape[1]
        parts.append(text)
        if self._text_constant and self._cache_keeps(T):
            return self._encode_suffix_over_cached_text(text, lengths, ctx), balance, chosen
        parts[-1], n_suffix = self._append_suffix(text, lengths)
        inputs = torch.cat(parts, 1)
        with ctx, record_function("llm_forward"):
            hidden = self.backbone(inputs_embeds=inputs, use_cache=False).last_hidden_state
        hidden = hidden.float()
        rows = torch.arange(B, device=device)
        if self.cfg.readout == "mean":
            pos = torch.arange(T, device=device)[None] < lengths[:, None]
            h = hidden[:, offset : offset + T]
            out = (h * pos[..., None]).sum(1) / lengths[:, None]
        else:  # suffix: the last suffix token; eos: the appended EOS (the last text position)
            last = offset + lengths - 1 + n_suffix
            out = hidden[rows, last]
        return out, balance, chosen

    def _embed_padded(self, token_ids):
        """Right-padded input embeddings [B, T, d] and each row's length.

        The embedding module applies the model's own input scaling to the text (Gemma's
        multiplies by sqrt(hidden)); the prefix and suffix vectors join `inputs_embeds` after it,
        unscaled. That is right for trained vectors: they are learnt in the scaled space the
        decoder reads, and only where they start (`mean_input_embedding`) has to match it."""
        device = self.embed.weight.device
        lengths = torch.tensor([len(t) for t in token_ids], device=device)
        ids = torch.full((len(token_ids), max(int(lengths.max()), 1)), self.eos_id, dtype=torch.long, device=device)
        for r, t in enumerate(token_ids):
            ids[r, : len(t)] = torch.tensor(t, dtype=torch.long, device=device)
        return self.embed(ids), lengths

    def _append_suffix(self, text, lengths):
        """Each row's suffix tokens right after its own text (scattered into the padding)."""
        if self.suffix is None:
            return text, 0
        B, _, d = text.shape
        n_suffix = self.suffix.shape[0]
        padded = torch.cat([text, text.new_zeros(B, n_suffix, d)], 1)
        pos = lengths[:, None] + torch.arange(n_suffix, device=text.device)[None]
        return padded.scatter(1, pos[..., None].expand(-1, -1, d), self.suffix.to(text.dtype).expand(B, -1, -1)), n_suffix

    def _encode_over_shared_head(self, token_ids, ctx):
        """Inference only: the instruction head that opens every prompt runs once (batch 1) and
        each row continues from its key/value cache, repeated over the batch. Equal to the full
        pass (causal attention: the head never sees what follows) at the cost of the rows' own
        tokens; the head is ~40 of an item prompt's ~55 tokens."""
        device = self.embed.weight.device
        H = len(self.prompts.head)
        with ctx:
            cache = self.backbone(inputs_embeds=self.embed(torch.tensor([self.prompts.head], device=device)), use_cache=True).cache
        cache.batch_repeat_interleave(len(token_ids))
        text, lengths = self._embed_padded([t[H:] for t in token_ids])
        inputs, n_suffix = self._append_suffix(text, lengths)
        with ctx:
            hidden = self.backbone(inputs_embeds=inputs, cache=cache, use_cache=True).last_hidden_state
        rows = torch.arange(len(token_ids), device=device)
        return hidden[rows, lengths - 1 + n_suffix].float()

    def _cache_keeps(self, length: int) -> bool:
        """Whether a key/value cache of `length` padded positions keeps every key. A sliding-window
        layer's cache (Gemma 3: 512) keeps the last window - 1 positions of the batch: past that,
        a right-padded shorter row would lose the keys its suffix attends to and find padding in
        their place, so such a text takes the full pass instead."""
        window = getattr(self.backbone.config, "sliding_window", None)
        return window is None or length < window

    def _encode_suffix_over_cached_text(self, text, lengths, ctx):
        """The text once without gradient, keeping its key/value cache; then only the suffix
        tokens run with gradient, attending to that cache. Equal to the full pass (causal
        attention: the text never sees the suffix) at the cost of one forward pass instead of
        forward + backward through every text position."""
        B, T, _ = text.shape
        device = text.device
        n_suffix = self.suffix.shape[0]
        with torch.no_grad(), ctx, record_function("llm_forward"):
            cache = self.backbone(inputs_embeds=text, use_cache=True).cache
        real = torch.arange(T, device=device)[None] < lengths[:, None]
        mask = torch.cat([real, real.new_ones(B, n_suffix)], 1).long()
        positions = lengths[:, None] + torch.arange(n_suffix, device=device)[None]
        with ctx, record_function("llm_forward"):
            hidden = self.backbone(
                inputs_embeds=self.suffix.to(text.dtype).expand(B, -1, -1), attention_mask=mask, position_ids=positions, cache=cache, use_cache=True
            ).last_hidden_state
        return hidden[:, -1].float()

    def encode_items(self, n_items: int, batch_size: int = 64, progress: bool = False) -> torch.Tensor:
        """The item matrix I: every item through the user path with a one-item history, in batches
        of similar prompt length. Row 0 is padding (zeros)."""
        from bench import progress as bars
        from bench.llm.batching import sorted_batches

        was_training = self.training
        self.eval()
        matrix = None
        with torch.inference_mode():
            lengths = [len(self.prompts.item_ids(i)) for i in range(1, n_items + 1)]
            for batch in bars.bar(sorted_batches(lengths, batch_size), desc="item encoding", unit="batch", disable=not progress):
                out = self.encode([[i + 1] for i in batch])[0]
                if matrix is None:
                    matrix = out.new_zeros(n_items + 1, out.shape[1])
                matrix[torch.tensor(batch, device=out.device) + 1] = out
        self.train(was_training)
        return matrix


def mean_input_embedding(embed: nn.Module) -> torch.Tensor:
    """The mean over the vocabulary of what `embed` feeds the decoder, in fp32: the suffix's
    starting point. Gemma's embedding module (Gemma3TextScaledWordEmbedding) multiplies each row
    by its `embed_scale`, sqrt(hidden) (25.3 for Gemma 3 270M), in its forward: the mean of its
    bare weight would start the suffix 25 times smaller than every text token. A plain
    nn.Embedding has no scale; its mean is taken exactly as before."""
    mean = embed.weight.detach().float().mean(0)
    scale = getattr(embed, "embed_scale", None)
    return mean if scale is None else mean * float(scale)


def _prompt_learning(backbone) -> bool:
    """A peft prompt-learning wrapper (prompt / prefix tuning) brings its own virtual tokens or cache."""
    configs = getattr(backbone, "peft_config", None) or {}
    return any(getattr(c, "is_prompt_learning", False) for c in configs.values())


def cosine_scores(users: torch.Tensor, items: torch.Tensor, tau: float) -> torch.Tensor:
    """cos(h_u, h_i) / tau over all items; column 0 (padding) is -inf."""
    u = nn.functional.normalize(users, dim=-1)
    i = nn.functional.normalize(items, dim=-1)
    scores = u @ i.T / tau
    scores[:, 0] = float("-inf")
    return scores
