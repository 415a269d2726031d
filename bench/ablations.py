"""`bench ablate`: Laser and one component's variants as runs, runner-side.

The variants themselves are Laser's (laser/ablations.py), reached through the method registry
(`Method.ablation_components`, `Method.ablation_variants`), never imported. Every ablation run
starts from the main suite's Laser config and runs on the main suite's split (its `split:`
settings), so the `full` variant is the main table's own run and shares its record and cached
ID encoder.
"""

from __future__ import annotations

from typing import Any

from bench.errors import unknown
from bench.methods import METHODS
from bench.suites import RunSpec, SuiteConfig, load_suite

METHOD = "laser"  # the registry name `bench ablate` ablates: the paper's ablation tables are Laser's


def components() -> dict[str, str]:
    """Component name -> what its variants compare."""
    return METHODS.get(METHOD).ablation_components()


def variants(component: str, profile: str) -> dict[str, dict[str, Any]]:
    return METHODS.get(METHOD).ablation_variants(component, profile)


def main_suite() -> SuiteConfig:
    return load_suite("main")


def resolved_profile(config: dict[str, Any]) -> str:
    """The profile `config` runs under once resolved (an unknown profile is refused here)."""
    return METHODS.get(METHOD)(config).resolved_config()["profile"]


def base_config(profile: str | None, llm: str | None, suite: SuiteConfig | None = None) -> dict[str, Any]:
    """The Laser config of the main suite (the shared full run); another `profile` replaces it
    by that profile's plain config. None: the main suite's own."""
    suite = suite or main_suite()
    cfg = dict(suite.methods.get(METHOD) or {})
    cfg.pop("method", None)
    if profile is not None and profile != resolved_profile(cfg):
        cfg = {"profile": profile}
    if llm:
        cfg["llm"] = llm
    return cfg


def ablation_specs(component: str, dataset: str, seeds: list[int], profile: str | None = None, llm: str | None = None, suite: SuiteConfig | None = None, only: list[str] | None = None) -> list[RunSpec]:
    """`only`: run these variants of the component and no others (each ablation run costs hours
    on a CPU); None runs them all."""
    base = base_config(profile, llm, suite)
    table = variants(component, resolved_profile(base))
    for name in only or ():
        if name not in table:
            raise unknown(f"variant of {component}", name, table)
    specs = []
    for variant, overrides in table.items():
        if only is not None and variant not in only:
            continue
        name = METHOD if variant == "full" else f"{METHOD}/{variant}"
        for seed in seeds:
            specs.append(RunSpec(name, METHOD, dataset, seed, {**base, **overrides}, tags={"component": component, "variant": variant}))
    return specs
