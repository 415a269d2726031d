"""Laser's configuration, with the `paper` and `cpu` profiles.

Both profiles run the released code's pipeline (laser/method.py): M-Former pre-training, LLM
phase 1 with gradient through the positive and sampled negatives, LLM phase 2 against the
frozen full item matrix; AdamW with weight decay 0.05, linear warm-up then cosine to `min_lr`.

`paper` is the paper's and the released code's setting (K=8, L=32, 12 blocks, hidden 768, 12
heads, tau 0.05, lambda 0.01, lr 1e-4 to 1e-5 with 500 warm-up steps, 15 + 5 epochs, history 10,
one training row per history prefix, 10 random negatives per row, pre-training 5 epochs with
top-3 routing), meant for a GPU. `mformer_init` stays `random` because bert-base-uncased is not
shipped: give a local bert-base folder to match the code.

`cpu` keeps every component but shrinks it for 2 CPU cores and the 135M SmolLM2 (every LLM
token is the budget: a phase-1 step runs the LLM with gradient over users and candidate items).
Deviations from the paper, and why:
- history 3 items instead of 10 (user prompts of ~110 tokens instead of ~300); the ID encoder
  still reads 20 (`id_history` defaults to its max_seq_length), so the prefix carries the
  longer collaborative signal without lengthening the prompt;
- M-Former 2 blocks, hidden 128, 4 heads, K=4 experts of L=4 queries (the prefix tokens pass
  through all 30 LLM layers, so L is paid in LLM tokens); pre-training 1 epoch over all
  prefixes (no LLM: ~1 min) with top-2 routing;
- phase 1: one shared draw of 16 negatives per batch plus the batch's other positives, instead
  of 10 per row (31 candidates per row for 32 item passes per batch, not 176); 3 + 3 epochs,
  each drawing one random history prefix per user (943 rows, 59 steps of 16);
- lr 1e-3 to 1e-4 with 20 warm-up steps: ~120 steps per phase need a larger step than 1e-4
  (the first experiment, ../shared/notes/laser-learning.md, learned at 1e-3);
- the untrained model is validated first (`validate_init`), so the learning curve starts at 0
  examples;
- backbone weights in bf16 (this CPU has avx512_bf16; `dtype: auto` falls back to fp32).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.configs import from_mapping
from bench.errors import UserError, unknown

ID_ENCODER_CPU = {"max_seq_length": 20, "train_rows_per_user": 30, "train_batch_size": 512, "stopping_step": 5, "epochs": 100}


@dataclass(frozen=True)
class LaserConfig:
    profile: str = "paper"
    llm: str | None = None  # None: the embedded SmolLM2 default
    dtype: str = "auto"  # backbone weights: auto (bf16 where the hardware has it, else fp32) | fp32 | bf16 | fp16
    trust_remote_code: bool = False
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    autocast: str = "auto"  # auto (bf16 where supported) | bf16 | off
    attention: str = "auto"  # auto (eager on CPU, sdpa on GPU) | eager | sdpa: the LLM's attention kernel, same maths
    template: str = "full"  # full | no_single_token | no_instruction
    history: int = 10
    prefix: str = "mformer"  # mformer | linear (ablation no_mformer) | none (suffix only)
    moe: bool = True
    experts: int = 8
    queries: int = 32
    top_k: int = 1
    mformer_hidden: int = 768
    mformer_heads: int = 12
    mformer_blocks: int = 12
    readout: str = "suffix"  # suffix | mean | eos
    suffix_tokens: int = 1
    cache_frozen_text: bool = True  # reuse KV caches of text no trainable token precedes: the suffix-only variant's text in training, the shared instruction head at inference
    tau: float = 0.05
    balance_weight: float = 0.01
    # M-Former pre-training (behaviour-text contrastive, no LLM): 0 epochs skips it
    mformer_init: str = "random"  # random | minilm (the packaged all-MiniLM-L6-v2) | PATH to a local BERT-family folder
    pretrain_epochs: int = 5
    pretrain_lr: float = 1e-4
    pretrain_batch_size: int = 64
    pretrain_top_k: int = 3
    pretrain_dim: int = 256  # the contrastive space (behaviour_proj / text_proj)
    pretrain_text_tokens: int = 32
    # LLM phase 1: `item_gradient` (released code: positive + sampled negatives, every item through
    # M-Former + LLM + suffix with gradient) | `recformer` (our first reading: the full matrix,
    # re-encoded each epoch, no item gradient)
    phase1: str = "item_gradient"
    phase1_epochs: int = 15
    phase2_epochs: int = 5
    negatives: int = 10  # random negatives per row in phase 1
    shared_negatives: bool = False  # one draw of `negatives` per batch, shared by its rows (fewer item passes)
    in_batch_negatives: bool = False  # the batch's other positives are negatives too
    lr: float = 1e-4
    weight_decay: float = 0.05
    warmup_steps: int = 500  # linear warm-up, then cosine to min_lr, per phase
    min_lr: float = 1e-5
    batch_size: int = 4
    length_buckets: int = 8  # training batches come from windows of this many batches sorted by prompt length (1: plain batches)
    examples: str = "all_prefixes"  # all_prefixes | sample (examples_per_user random prefixes per epoch) | last
    examples_per_user: int = 1
    valid_users: int | None = None  # users used for epoch selection (None: all)
    validate_init: bool = False  # validate the untrained model first (the learning curve's point at 0 examples)
    eval_batch_size: int = 32
    id_history: int | None = None  # items the ID encoder reads (None: its own max_seq_length); `history` is the text's
    id_encoder: str = "bert4rec"  # bert4rec | sasrec
    id_encoder_config: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        choices = {
            "template": ("full", "no_single_token", "no_instruction"),
            "prefix": ("mformer", "linear", "none"),
            "readout": ("suffix", "mean", "eos"),
            "examples": ("all_prefixes", "sample", "last"),
            "id_encoder": ("bert4rec", "sasrec"),
            "dtype": ("auto", "fp32", "bf16", "fp16"),
            "autocast": ("auto", "bf16", "off"),
            "attention": ("auto", "eager", "sdpa"),
            "phase1": ("item_gradient", "recformer"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise unknown(f"laser {name}", getattr(self, name), allowed)
        positive = ("history", "experts", "queries", "top_k", "mformer_hidden", "mformer_heads", "mformer_blocks", "suffix_tokens", "batch_size", "length_buckets", "examples_per_user", "eval_batch_size", "pretrain_batch_size", "pretrain_top_k", "pretrain_dim", "pretrain_text_tokens")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"laser {name} must be a positive integer, got {value!r}")
        for name in ("phase1_epochs", "phase2_epochs", "pretrain_epochs", "negatives", "warmup_steps"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool) or getattr(self, name) < 0:
                raise UserError(f"laser {name} must be a non-negative integer, got {getattr(self, name)!r}")
        if self.phase1_epochs + self.phase2_epochs == 0:
            raise UserError("laser needs at least one training epoch (phase1_epochs + phase2_epochs > 0)")
        if self.phase1 == "item_gradient" and self.phase1_epochs and self.negatives == 0 and not self.in_batch_negatives:
            raise UserError("laser phase 1 needs negatives: set negatives > 0 or in_batch_negatives: true")
        if self.id_history is not None and (not isinstance(self.id_history, int) or isinstance(self.id_history, bool) or self.id_history <= 0):
            raise UserError(f"laser id_history must be a positive integer or null, got {self.id_history!r}")
        if self.top_k > self.experts:
            raise UserError(f"laser top_k ({self.top_k}) cannot exceed experts ({self.experts})")
        if self.mformer_hidden % self.mformer_heads:
            raise UserError(f"laser mformer_hidden ({self.mformer_hidden}) must be divisible by mformer_heads ({self.mformer_heads})")
        for name in ("lr", "tau", "pretrain_lr"):
            if not getattr(self, name) > 0:
                raise UserError(f"laser {name} must be > 0, got {getattr(self, name)!r}")
        if self.balance_weight < 0 or self.weight_decay < 0 or self.min_lr < 0:
            raise UserError("laser balance_weight, weight_decay and min_lr must be >= 0")
        if self.min_lr > self.lr:
            raise UserError(f"laser min_lr ({self.min_lr}) cannot exceed lr ({self.lr})")
        if not self.mformer_init:
            raise UserError("laser mformer_init must be random, minilm or a folder path")
        if self.valid_users is not None and (not isinstance(self.valid_users, int) or self.valid_users <= 0):
            raise UserError(f"laser valid_users must be a positive integer or null, got {self.valid_users!r}")


PROFILES: dict[str, dict[str, Any]] = {
    "paper": {},
    "cpu": {
        "history": 3,
        "experts": 4,
        "queries": 4,
        "mformer_hidden": 128,
        "mformer_heads": 4,
        "mformer_blocks": 2,
        "pretrain_epochs": 1,
        "pretrain_top_k": 2,
        "lr": 1e-3,
        "min_lr": 1e-4,
        "warmup_steps": 20,
        "batch_size": 16,
        "phase1_epochs": 3,
        "phase2_epochs": 3,
        "negatives": 16,
        "shared_negatives": True,
        "in_batch_negatives": True,
        "examples": "sample",
        "validate_init": True,
        "eval_batch_size": 32,
        "id_encoder_config": ID_ENCODER_CPU,
    },
}


def resolve(values: Mapping[str, Any] | None) -> LaserConfig:
    """Profile values first, then the explicit keys (unknown keys rejected)."""
    values = dict(values or {})
    profile = values.get("profile", "cpu")
    if profile not in PROFILES:
        raise unknown("laser profile", profile, PROFILES)
    merged = {**PROFILES[profile], **values, "profile": profile}
    return from_mapping(LaserConfig, merged, "method laser")
