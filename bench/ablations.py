"""`bench ablate`: Laser and one component's variants as runs, runner-side.

The variants themselves are Laser's (laser/ablations.py). Every ablation run starts from the
main suite's Laser config and runs on the main suite's split (its `split:` settings), so the
`full` variant is the main table's own run and shares its record and cached ID encoder.
"""

from __future__ import annotations

from typing import Any

from bench.errors import unknown
from bench.llm.config import DEFAULT_PROFILE
from bench.suites import RunSpec, SuiteConfig, load_suite
from laser.ablations import BASE, COMPONENTS, variants

__all__ = ["COMPONENTS", "variants", "base_config", "ablation_specs", "main_suite"]


def main_suite() -> SuiteConfig:
    return load_suite("main")


def base_config(profile: str, llm: str | None, suite: SuiteConfig | None = None) -> dict[str, Any]:
    """The Laser config of the main suite (the shared full run)."""
    if profile not in BASE:
        raise unknown("laser profile", profile, BASE)
    suite = suite or main_suite()
    cfg = dict(suite.methods.get("laser") or {})
    cfg.pop("method", None)
    if profile != cfg.get("profile", DEFAULT_PROFILE):
        cfg = {"profile": profile}
    if llm:
        cfg["llm"] = llm
    return cfg


def ablation_specs(component: str, dataset: str, seeds: list[int], profile: str = DEFAULT_PROFILE, llm: str | None = None, suite: SuiteConfig | None = None) -> list[RunSpec]:
    base = base_config(profile, llm, suite)
    specs = []
    for variant, overrides in variants(component, profile).items():
        name = "laser" if variant == "full" else f"laser/{variant}"
        for seed in seeds:
            specs.append(RunSpec(name, "laser", dataset, seed, {**base, **overrides}, tags={"component": component, "variant": variant}))
    return specs
