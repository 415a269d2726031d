"""`bench report`'s claims page: reports/claims/README.md with its figure and CSVs, from records only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bench.report.records import PAPER_SOURCE

TITLE = "The paper's claims, tested here"


def _figure_lines(paths: list[Path]) -> list[str]:
    if not paths:
        return []
    caption = (
        "Each claim's effect in the paper's direction: the paper's (hollow diamonds; a stated range as a line) "
        "and ours with its 95% paired-bootstrap interval, coloured by verdict; right of zero is the paper's side"
    )
    return [f"![{caption}]({paths[0].name})", "", f"*{caption}* ([PDF]({paths[1].name}))", ""]


def _carries_lines(probes, controls, groups, group_notes: Sequence[str]) -> list[str]:
    from bench.report.claim_views import control_view, probe_view
    from bench.report.probe_frames import findings
    from bench.report.render import markdown_table

    lines = ["## What carries Laser's accuracy here", ""]
    lines += [f"- {line}" for line in findings(probes, controls)] + [""]
    lines += ["### Attribution probes", ""]
    lines += [markdown_table(probe_view(probes))] if not probes.empty else ["Not measured yet: no finished run records a probe (`bench probe --suite main`).", ""]
    lines += ["### Controls", ""]
    lines += [markdown_table(control_view(controls))] if not controls.empty else ["Not measured yet: no finished run of `mformer_tower` or `laser_fusion`.", ""]
    lines += ["### User groups of the main suite", ""]
    if groups is not None:
        lines += [markdown_table(v) for v in groups.views]
    lines += [line for note in group_notes for line in (note, "")]
    if groups is None and not group_notes:
        lines += ["Not measured yet: no finished run of the main suite.", ""]
    return lines


def _scale_lines(scale, figure: list[Path], goal: str) -> list[str]:
    from bench.report.render import markdown_table
    from bench.report.scale import scale_view

    lines = ["## Scale: how far Laser stands from its encoder, step by step", ""]
    lines += [
        "Each step moves one setting of the cpu profile toward the released code's (or trains on fewer users); "
        "`bench ablate --component C` runs a step (experts, mformer_init, history, llm_layers), `bench run --suite backbones` a second LLM "
        "(Gemma 3 270M, from 4-bit weights), `bench run --suite fewshot5` a regime, "
        "and `bench run --suite towers` each M-Former step without the LLM, in minutes: whether the step changes what M-Former draws from the encoder.",
        "",
    ]
    if goal:
        lines += [goal, ""]
    if figure:
        caption = "Laser / BERT4Rec (dots) and M-Former alone / BERT4Rec (hollow diamonds) on validation at each measured step; 1: level with the encoder, dashed: the 0.8 goal"
        lines += [f"![{caption}]({figure[0].name})", "", f"*{caption}* ([PDF]({figure[1].name}))", ""]
    return lines + [markdown_table(scale_view(scale))]


def claims_readme(frame, figure: list[Path], probes, controls, groups, group_notes: Sequence[str], scale, scale_figure: list[Path], goal: str) -> str:
    from bench.report.claim_views import claims_view, verdict_counts
    from bench.report.layout import PROTOCOL
    from bench.report.render import markdown_table

    lines = [f"# {TITLE}", ""]
    lines += [
        f"Each claim of {PAPER_SOURCE}, set against the runs of this harness: the paper's figure, ours, the paired test and one verdict. "
        "Written by `bench report` from the run records under `results/runs/` only; `claims.csv` holds the same rows.",
        "",
        f"Today: {verdict_counts(frame)}.",
        "",
        f"Protocol: {PROTOCOL}.",
        "",
    ]
    lines += _figure_lines(figure)
    lines += ["## Claims", "", markdown_table(claims_view(frame))]
    lines += _carries_lines(probes, controls, groups, group_notes)
    lines += _scale_lines(scale, scale_figure, goal)
    return "\n".join(lines)


def write_claims_page(folder: Path, pool: Callable[[str], list], results: Path | None) -> list[Path]:
    """`pool(name)`: a suite's records (claims.SUITE_POOLS) or an ablation component's (claims.Side.pool)."""
    from bench.io import atomic_write_text
    from bench.report.ablation_frames import load_paper_results
    from bench.report.claim_frames import claims_frame
    from bench.report.claims import CLAIMS, MAIN, SCALE_STEPS
    from bench.report.figures import claims_figure, scale_figure
    from bench.report.probe_frames import control_frame, probe_frame
    from bench.report.scale import goal_line, scale_frame, stretch_line
    from bench.report.user_groups import user_group_section

    frame = claims_frame(CLAIMS, pool, load_paper_results())
    main = pool(MAIN)
    # the main suite's runs: the towers suite's cells are a scale diagnostic, read in the scale section
    probes, controls = probe_frame(main), control_frame(main)
    groups, group_notes = user_group_section(main, results) if main else (None, [])
    scale = scale_frame(SCALE_STEPS, pool)
    figure, scale_plot = claims_figure(frame, folder, "claims"), scale_figure(scale, folder, "scale")
    written = figure + scale_plot
    tables = [("claims", frame), ("probes", probes), ("controls", controls), ("scale", scale)]
    for stem, table in tables:
        if stem in ("claims", "scale") or not table.empty:
            atomic_write_text(folder / f"{stem}.csv", table.to_csv(index=False))
            written.append(folder / f"{stem}.csv")
    atomic_write_text(folder / "README.md", claims_readme(frame, figure, probes, controls, groups, group_notes, scale, scale_plot, "\n\n".join(filter(None, (goal_line(pool), stretch_line(pool))))))
    return written + [folder / "README.md"]
