"""The one small interface every method implements, and the method registry.

A method is built from its config mapping (unknown keys rejected), trained with `fit` on a
saved split, and asked for `score(histories)`: one row of scores over all items per history,
column 0 being the padding item. The harness, never the method, turns scores into metrics.
Building a method only resolves its config (no weights, no data), so the harness may build
one just to read `resolved_config()`.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bench.errors import UserError, unknown
from bench.registry import Registry


@dataclass(frozen=True)
class ParameterCounts:
    """Counted as peft's get_nb_trainable_parameters does: numel split by requires_grad.

    `llm_side_trainable` is the part that lives in the LLM's input space (Laser's virtual
    tokens); None for methods without an LLM."""

    trainable: int
    total: int
    llm_side_trainable: int | None = None

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0


@dataclass
class FitContext:
    """What a method gets besides the split: where to write, how to report progress, where the
    shared caches live and how to lock them. A method needs nothing else from the harness."""

    workdir: Path
    seed: int
    results_root: Path
    threads: int = 1
    progress: bool = True
    on_epoch: Callable[[dict[str, Any]], None] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    rebalance: Callable[[], Any] | None = None  # bench/threads.py: take this run's share of the cores now
    # the runner's lookup of another finished run's kept weights: (registered method, config) -> kept
    find_kept: Callable[[str, Mapping[str, Any]], dict[str, Any]] | None = None

    @property
    def cache_dir(self) -> Path:
        """Caches shared by runs (frozen ID encoders, pre-trained M-Formers): `<results>/cache`."""
        return Path(self.results_root) / "cache"

    def lock(self, name: str):
        """A context manager holding the cross-process lock `name` (blocks until it is free): one
        process fills a missing cache, the others wait for it and then read it."""
        from bench.locks import run_lock

        return run_lock(self.results_root, name, wait=True)

    def kept_weights_of(self, method: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """The kept weights of the finished run of `method` with `config` on this split and seed
        (a control built on another run, e.g. laser_fusion); UserError when it has not run."""
        from bench.errors import UserError

        if self.find_kept is None:
            raise UserError(f"this run cannot read other runs' weights (no results folder to look in for {method})")
        return self.find_kept(method, config)

    def rebalance_threads(self) -> None:
        """Call at safe points of long work (each batch): cheap, and a no-op for fixed threads."""
        if self.rebalance is not None:
            self.rebalance()


class Method(ABC):
    family: str = "ID-based"  # table group: "ID-based", "LLM-based (tuned LLM)", "Laser", "Non-personalised"
    uses_collaborative_ids: bool = True
    # Part of every run key: bump it when a code change alters what a resolved config means
    # (a new default inside the engine, a changed training loop), so old records turn stale.
    version: ClassVar[int] = 1
    # What the method can do, declared for the harness to read (never guessed with hasattr):
    # runs under an accelerate/torchrun launch: every process takes part in each run (the engine
    # shares out the batches; a method with nothing to train repeats its fit) and the main
    # process records it. False: refused under a launch (bench/preflight.py)
    distributed: ClassVar[bool] = False
    llm_backbone: ClassVar[bool] = False  # runs a causal LM through the shared engine (bench perf measures these)
    keeps_weights: ClassVar[bool] = False  # kept_weights() after fit, restore() from them: probes and controls reuse a run
    probes: ClassVar[tuple[str, ...]] = ()  # attribution probes probed() applies at test time (bench/probes.py)
    after: ClassVar[tuple[str, ...]] = ()  # registered methods whose finished runs (same seed) this one reads: it runs after them

    def resolved_config(self) -> dict[str, Any]:
        """The config as the method will run it: profile expanded, every default filled in.

        The run key hashes this, not the config as written, so editing a profile or a default
        changes the key. Default: `self.cfg` as a dict, for methods that keep a frozen dataclass
        there; a method that keeps its settings elsewhere overrides this."""
        cfg = getattr(self, "cfg", None)
        if cfg is None or not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
            raise NotImplementedError(f"{type(self).__name__} keeps no dataclass config in self.cfg: override resolved_config()")
        return dataclasses.asdict(cfg)

    @abstractmethod
    def fit(self, split, ctx: FitContext) -> dict[str, Any]:
        """Train; return training facts (epochs run, best epoch, per-epoch validation curve)."""

    @abstractmethod
    def score(self, histories: Sequence[Sequence[int]]):
        """[B, n_items + 1] float scores for the next item after each history."""

    @abstractmethod
    def parameter_counts(self) -> ParameterCounts: ...

    @classmethod
    def config_with_llm(cls, config: Mapping[str, Any], llm: str) -> Mapping[str, Any]:
        """`config` with its LLM set to the folder `llm` (`--llm`); unchanged for a method without one."""
        return config

    @classmethod
    def config_for_fraction(cls, config: Mapping[str, Any], scale: int) -> Mapping[str, Any]:
        """`config` for a split that trains on 1/`scale` of the users, so that the run makes the
        optimizer steps the full split's run makes: every setting counted in passes over the
        training users (epochs, patience, rows drawn per user) `scale` times. A few-shot suite
        (`split: {train_fraction: f}`) applies it to every run, scale = round(1/f)."""
        raise UserError(f"method {cls.__name__} does not say how its training scales to a fraction of the users (config_for_fraction)")

    def kept_weights(self) -> dict[str, Any]:
        """After `fit`: the trained state worth keeping (tensors), enough for `restore`."""
        raise NotImplementedError(f"{type(self).__name__} keeps no weights")

    def restore(self, split, ctx: FitContext, kept: dict[str, Any]) -> None:
        """Instead of `fit`: rebuild the trained method from `kept_weights()`; then `score` works."""
        raise NotImplementedError(f"{type(self).__name__} keeps no weights")

    def probed(self, name: str, split, seed: int):
        """A context manager: inside it, `score` answers with input `name` changed (one of `probes`)."""
        raise NotImplementedError(f"{type(self).__name__} has no probes")

    def preflight(self) -> None:
        """Check what `fit` will read besides the split (model folders, nested settings),
        cheaply and without writing; raise UserError. The runner calls it for every run of a
        suite before the first one starts."""

    # Ablations are the method's own (which parts it has to take away), declared here so that
    # `bench ablate` and `bench perf` reach them through the registry, never the method's modules.
    @classmethod
    def ablation_components(cls) -> dict[str, str]:
        """The components `bench ablate --component` accepts, name -> what its variants compare."""
        return {}

    @classmethod
    def ablation_variants(cls, component: str, profile: str) -> dict[str, dict[str, Any]]:
        """One component's variants under `profile`: {variant: keys overriding the base config};
        "full" overrides nothing, so an ablation shares the main suite's run."""
        raise unknown("ablation component", component, cls.ablation_components())


def count_parameters(*modules, llm_side: int | None = None) -> ParameterCounts:
    seen: set[int] = set()
    trainable = total = 0
    for module in modules:
        if module is None:
            continue
        for p in module.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            total += p.numel()
            if p.requires_grad:
                trainable += p.numel()
    return ParameterCounts(trainable, total, llm_side)


METHODS: Registry[Callable[[Mapping[str, Any]], Method]] = Registry("method")

_RECBOLE = {
    "sasrec": "SASRec",
    "bert4rec": "BERT4Rec",
    "gru4rec": "GRU4Rec",
    "caser": "Caser",
    "narm": "NARM",
    "stamp": "STAMP",
    "nextitnet": "NextItNet",
    "fdsa": "FDSA",
}
for _name, _cls in _RECBOLE.items():
    METHODS.add(_name, f"baselines.recbole.models:{_cls}", help=f"RecBole {_cls} (ID-based)")
METHODS.add("pop", "baselines.pop:MostPop", help="MostPop: items ranked by training interaction count, the same for every user (the floor)")
METHODS.add("laser", "laser.method:LaserMethod", help="Laser: frozen LLM + M-Former prefix + suffix token")
METHODS.add("laser_fusion", "laser.fusion:LaserFusionMethod", help="control: a finished Laser run fused with its frozen ID encoder, z(Laser) + lambda z(encoder), lambda on validation")
METHODS.add("mformer_tower", "laser.tower:MFormerTowerMethod", help="control: Laser's encoder, M-Former, pre-training and phases with no LLM (pooled queries, projected)")
METHODS.add("lora", "baselines.peft.lora:LoraMethod", help="LoRA (peft) on the LLM + suffix read-out, no IDs")
METHODS.add("full_ft", "baselines.peft.full_ft:FullFineTuneMethod", help="full fine-tuning of the LLM + suffix read-out, no IDs")
METHODS.add("prompt_tuning", "baselines.peft.prompt_tuning:PromptTuningMethod", help="prompt tuning (peft) + suffix read-out, no IDs")
METHODS.add("prefix_tuning", "baselines.peft.prefix_tuning:PrefixTuningMethod", help="prefix tuning / P-tuning v2 (peft) + suffix read-out, no IDs")
