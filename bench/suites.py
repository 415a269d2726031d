"""Suites: YAML files naming datasets x methods x seeds, with `include:` for shared parts.

A suite's `methods` maps a display name to that run's config; the key `method` names the
registered method (default: the display name), everything else is the method's config.
`family_defaults` maps a method family (e.g. "ID-based") to settings every method of that
family in the suite starts from, so shared settings are written once (suite_files/_id_baselines.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


from bench.configs import from_mapping, load_yaml
from bench.errors import UserError, unknown

SUITES_DIR = Path(__file__).parent / "suite_files"


@dataclass(frozen=True)
class SuiteConfig:
    name: str = ""
    description: str = ""
    datasets: list = field(default_factory=lambda: ["ml-100k"])
    seeds: list = field(default_factory=lambda: [0])
    split: dict = field(default_factory=dict)
    methods: dict = field(default_factory=dict)
    family_defaults: dict = field(default_factory=dict)  # family -> settings its methods start from

    def __post_init__(self) -> None:
        for dataset in self.datasets:
            if not isinstance(dataset, str) or not dataset:
                raise UserError(f"suite {self.name!r}: dataset {dataset!r} must be a name or a directory path")
        if not self.methods:
            raise UserError(f"suite {self.name!r} names no methods")
        if not self.datasets:
            raise UserError(f"suite {self.name!r} names no datasets")
        for seed in self.seeds:
            if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
                raise UserError(f"suite {self.name!r}: seed {seed!r} must be a non-negative integer")
        for display, spec in self.methods.items():
            if spec is not None and not isinstance(spec, dict):
                raise UserError(f"suite {self.name!r}: method {display!r} needs a mapping of settings, got {spec!r}")
        from bench.data.splits import SplitSettings

        from_mapping(SplitSettings, self.split, "split settings")  # a bad train_fraction fails here, before any run


@dataclass(frozen=True)
class RunSpec:
    name: str  # display name in tables
    method: str  # registry name
    dataset: str
    seed: int
    config: dict
    tags: dict = field(default_factory=dict)  # e.g. ablation component/variant; not part of the run key


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def load_suite(name_or_path: str) -> SuiteConfig:
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        if path.suffix in (".yaml", ".yml") or "/" in name_or_path:
            raise UserError(f"{name_or_path}: suite file not found")
        if name_or_path not in suite_names():
            raise unknown("suite", name_or_path, suite_names())
        path = SUITES_DIR / f"{name_or_path}.yaml"
    data = load_yaml(path)
    data.setdefault("name", path.stem)
    return from_mapping(SuiteConfig, data, str(path))


def few_shot_scale(suite: SuiteConfig) -> int:
    """round(1/f) for a suite that trains on a fraction f of the users; 1 for the full split."""
    from bench.data.splits import SplitSettings

    return max(1, round(1 / from_mapping(SplitSettings, suite.split, "split settings").train_fraction))


def expand(suite: SuiteConfig, methods: list[str] | None = None, seeds: list[int] | None = None) -> list[RunSpec]:
    from bench.methods import METHODS

    chosen = dict(suite.methods)
    if methods:
        for m in methods:
            if m not in chosen:
                raise UserError(f"--methods: {m!r} is not a method of suite {suite.name!r} (it has: {', '.join(chosen)})")
        chosen = {m: chosen[m] for m in methods}
    # a few-shot suite's schedules are written as the full split's: each run is scaled to make
    # as many optimizer steps (with the full split's epochs, an LLM epoch on 5% of the users is 3 steps)
    scale = few_shot_scale(suite)
    specs = []
    for display, spec in chosen.items():
        spec = dict(spec or {})
        method = spec.pop("method", display)
        if method not in METHODS:
            raise unknown("method", method, METHODS.names())
        shared = suite.family_defaults.get(getattr(METHODS.get(method), "family", None))
        if shared:
            spec = {**shared, **spec}
        if scale > 1:
            spec = dict(METHODS.get(method).config_for_fraction(spec, scale))
        for dataset in suite.datasets:
            for seed in seeds or suite.seeds:
                specs.append(RunSpec(display, method, dataset, int(seed), spec))
    return specs
