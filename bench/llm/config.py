"""The engine's settings (`LLMConfig`) and their `paper` / `cpu` profiles, shared by Laser and
the LLM baselines; each method's config extends `LLMConfig` with its own fields and profile
layer (laser/config.py, baselines/peft/*.py). Why the `cpu` values deviate from the paper is
told in laser/config.py.

The dataclass defaults are the `paper` profile's values; a config resolved without a
`profile` key uses DEFAULT_PROFILE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.configs import from_mapping
from bench.errors import UserError, unknown

DEFAULT_PROFILE = "cpu"  # the one place that names the default profile


def positive_int(where: str, name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise UserError(f"{where} {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class LLMConfig:
    profile: str = "paper"
    llm: str | None = None  # None: the embedded SmolLM2 default
    dtype: str = "auto"  # backbone weights: auto (bf16 where the hardware has it, else fp32) | fp32 | bf16 | fp16
    trust_remote_code: bool = False
    llm_layers: int | None = None  # keep the LLM's first N decoder layers (its final norm still applies); None: all
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    autocast: str = "auto"  # auto (bf16 where supported) | bf16 | off
    attention: str = "auto"  # auto (eager on CPU, sdpa on GPU) | eager | sdpa: the LLM's attention kernel, same maths
    template: str = "full"  # full | no_single_token | no_instruction
    history: int = 10
    readout: str = "suffix"  # suffix | mean | eos
    suffix_tokens: int = 1
    cache_frozen_text: bool = True  # reuse KV caches of text no trainable token precedes: the suffix-only variant's text in training, the shared instruction head at inference
    tau: float = 0.05
    # LLM phase 1: `item_gradient` (released code: positive + sampled negatives, every item through
    # the model with gradient) | `recformer` (our first reading: the full matrix, re-encoded
    # each epoch, no item gradient)
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

    # how errors name the method: each method's config says its registry name (`--set NAME.key=...`)
    where = "llm"

    def __post_init__(self) -> None:
        where = self.where
        choices = {
            "template": ("full", "no_single_token", "no_instruction"),
            "readout": ("suffix", "mean", "eos"),
            "examples": ("all_prefixes", "sample", "last"),
            "dtype": ("auto", "fp32", "bf16", "fp16"),
            "autocast": ("auto", "bf16", "off"),
            "attention": ("auto", "eager", "sdpa"),
            "phase1": ("item_gradient", "recformer"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise unknown(f"{where} {name}", getattr(self, name), allowed)
        for name in ("history", "suffix_tokens", "batch_size", "length_buckets", "examples_per_user", "eval_batch_size"):
            positive_int(where, name, getattr(self, name))
        for name in ("phase1_epochs", "phase2_epochs", "negatives", "warmup_steps"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool) or getattr(self, name) < 0:
                raise UserError(f"{where} {name} must be a non-negative integer, got {getattr(self, name)!r}")
        if self.phase1_epochs + self.phase2_epochs == 0:
            raise UserError(f"{where} needs at least one training epoch (phase1_epochs + phase2_epochs > 0)")
        if self.phase1 == "item_gradient" and self.phase1_epochs and self.negatives == 0 and not self.in_batch_negatives:
            raise UserError(f"{where} phase 1 needs negatives: set negatives > 0 or in_batch_negatives: true")
        for name in ("lr", "tau"):
            if not getattr(self, name) > 0:
                raise UserError(f"{where} {name} must be > 0, got {getattr(self, name)!r}")
        if self.weight_decay < 0 or self.min_lr < 0:
            raise UserError(f"{where} weight_decay and min_lr must be >= 0")
        if self.min_lr > self.lr:
            raise UserError(f"{where} min_lr ({self.min_lr}) cannot exceed lr ({self.lr})")
        if self.llm_layers is not None:
            positive_int(where, "llm_layers", self.llm_layers)
        if self.valid_users is not None and (not isinstance(self.valid_users, int) or self.valid_users <= 0):
            raise UserError(f"{where} valid_users must be a positive integer or null, got {self.valid_users!r}")


# The engine's layer of each profile; a method adds its own layer on top (laser/config.py).
PROFILES: dict[str, dict[str, Any]] = {
    "paper": {},
    "cpu": {
        "llm_layers": 15,
        "template": "no_instruction",
        "history": 3,
        "lr": 1e-3,
        "min_lr": 1e-4,
        "warmup_steps": 20,
        "batch_size": 16,
        "phase1_epochs": 5,
        "phase2_epochs": 5,
        "negatives": 16,
        "shared_negatives": True,
        "in_batch_negatives": True,
        "examples": "sample",
        "validate_init": True,
        "eval_batch_size": 32,
    },
}


def resolve_profile(cls: type, where: str, values: Mapping[str, Any] | None, *layers: Mapping[str, Mapping[str, Any]]):
    """`cls` from the engine's profile, then each layer's entry for that profile, then the
    explicit keys (unknown keys rejected, did-you-mean)."""
    if values is not None and not isinstance(values, Mapping):
        raise UserError(f"{where}: expected a mapping of key: value settings, got {type(values).__name__} {values!r}")
    values = dict(values or {})
    profile = values.get("profile", DEFAULT_PROFILE)
    if profile not in PROFILES:
        raise unknown(f"{where.removeprefix('method ')} profile", profile, PROFILES)
    merged: dict[str, Any] = dict(PROFILES[profile])
    for layer in layers:
        merged.update(layer.get(profile, {}))
    merged.update(values)
    merged["profile"] = profile
    return from_mapping(cls, merged, where)
