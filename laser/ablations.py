"""Ablation components: each maps variant names to a few overridden keys on the Laser base.

The `full` variant is the base config itself, so an ablation shares the full run (and the
cached ID encoder) with the main suite instead of retraining them. The `experts` grid is the
paper's K in {4, 8, 12} x L in {16, 32, 48} around (8, 32) (its Table 7); the cpu profile takes
one-factor steps around its own base (4, 4), L in {4, 16, 32} at K=4 and K in {2, 4, 8} at L=4,
plus the released code's (8, 32): each step is one LLM run, and L is paid in LLM tokens.

Only the variants live here (they are Laser's); turning them into runs on the main suite's
Laser config and split is the runner's side (bench/ablations.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.errors import unknown
from bench.registry import Registry

COMPONENTS: Registry[Callable[[str], dict[str, dict[str, Any]]]] = Registry("ablation component")


def _static(table: dict[str, dict[str, Any]]) -> Callable[[str], dict[str, dict[str, Any]]]:
    return lambda profile: table


COMPONENTS.add("m_former", _static({"full": {}, "no_moe": {"moe": False}, "no_mformer": {"prefix": "linear"}}), help="paper Table 4")
COMPONENTS.add("prefix", _static({"full": {}, "suffix_only": {"prefix": "none"}}), help="paper Table 4 (w/o prefix)")
COMPONENTS.add("suffix", _static({"full": {}, "prefix_only_mean": {"readout": "mean"}, "prefix_only_eos": {"readout": "eos"}}), help="paper Table 5")
COMPONENTS.add(
    "stages",
    _static({"full": {}, "no_phase1": {"phase1_epochs": 0}, "no_phase2": {"phase2_epochs": 0}, "recformer_stage1": {"phase1": "recformer"}}),
    help="paper Table 4 (w/o stage 1 / 2) and our first reading's stage 1",
)
COMPONENTS.add("pretrain", _static({"full": {}, "no_pretrain": {"pretrain_epochs": 0}}), help="M-Former pre-training (released code)")
COMPONENTS.add("id_encoder", _static({"full": {}, "sasrec": {"id_encoder": "sasrec"}}), help="paper Fig. 4")
# a template variant's name; the paper's own prompt is "full" as a template, not as a variant
TEMPLATE_VARIANTS = {"full": "with_instruction", "no_single_token": "no_single_token", "no_instruction": "no_instruction"}


def _templates(profile: str) -> dict[str, dict[str, Any]]:
    from laser.config import resolve

    # every template but the profile's own (the cpu profile drops the instruction sentence)
    base = resolve({"profile": profile}).template
    return {"full": {}, **{name: {"template": t} for t, name in TEMPLATE_VARIANTS.items() if t != base}}


COMPONENTS.add("template", _templates, help="paper Table 6")

def _id_history(profile: str) -> dict[str, dict[str, Any]]:
    from laser.config import resolve

    # the ID encoder reads no more items than the text shows
    return {"full": {}, "text_history_only": {"id_history": resolve({"profile": profile}).history}}


COMPONENTS.add("id_history", _id_history, help="the ID encoder's own history vs the text's")

# Steps toward the released code's configuration beyond K x L, one setting each; run any of them
# at the best setting so far with `bench ablate --component C --set laser.KEY=VALUE`.
# all-MiniLM-L6-v2's shape (6 x 384, 12 heads), pre-trained with the released code's top-3 routing
# (under fewer experts, routing takes them all)
MINILM = {"mformer_init": "minilm", "mformer_blocks": 6, "mformer_hidden": 384, "mformer_heads": 12, "pretrain_top_k": 3}
COMPONENTS.add("mformer_init", _static({"full": {}, "minilm": MINILM}), help="M-Former from all-MiniLM-L6-v2, as the released code starts from BERT")


def _history(profile: str) -> dict[str, dict[str, Any]]:
    from laser.config import resolve

    # the text history of the other profile: 10 titles (the released code's) from the cpu base, 3 from the paper's
    base = resolve({"profile": profile}).history
    return {"full": {}, **{f"history{h}": {"history": h} for h in (3, 10) if h != base}}


def _llm_layers(profile: str) -> dict[str, dict[str, Any]]:
    from laser.config import resolve

    base = resolve({"profile": profile}).llm_layers
    return {"full": {}, "all_layers": {"llm_layers": None}} if base is not None else {"full": {}, "layers15": {"llm_layers": 15}}


COMPONENTS.add("history", _history, help="titles in the user prompt: 10 (released code) vs 3 (cpu)")
COMPONENTS.add("llm_layers", _llm_layers, help="the whole LLM vs its first 15 layers (cpu)")

EXPERT_POINTS = {
    "paper": tuple((k, q) for k in (4, 8, 12) for q in (16, 32, 48)),
    "cpu": ((4, 16), (4, 32), (2, 4), (8, 4), (8, 32)),
}
BASE = {"paper": (8, 32), "cpu": (4, 4)}


def _experts(profile: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"full": {}}
    for k, q in EXPERT_POINTS[profile]:
        if (k, q) != BASE[profile]:
            out[f"K{k}_L{q}"] = {"experts": k, "queries": q}
    return out


COMPONENTS.add("experts", _experts, help="paper Table 7 (K x L)")


def variants(component: str, profile: str) -> dict[str, dict[str, Any]]:
    if profile not in BASE:
        raise unknown("laser profile", profile, BASE)
    return COMPONENTS.get(component)(profile)
