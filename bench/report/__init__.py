"""Reports: tables (CSV, LaTeX, Markdown) and figures from stored run records only.

records: record facts and consistency checks; frames, ablation_frames: pure DataFrames;
layout, views: tables as cells; render: LaTeX / Markdown; figures: plots; build: `bench report`
(record selection, sections, writing). The claims page: claims (the paper's claims as data),
claim_frames (their verdicts), paired (effects and bootstrap intervals), probe_frames (probes
and controls), user_groups and split_facts (accuracy by user group, also in every suite's
README), claim_views, claims_page. No module here imports a method or the runner.
"""

from __future__ import annotations

from bench.latex import latex_escape  # noqa: F401

from bench.report.records import (  # noqa: F401
    PAPER_TABLE_OF_COMPONENT,
    ALPHA,
    CONTROL_FAMILY,
    DEFAULT_BACKBONE,
    DEFAULT_METRICS,
    FAMILIES,
    FLOOR_FAMILY,
    LASER_FAMILY,
    NO_LLM_FAMILIES,
    OTHER_FAMILY,
    PAPER_DATASETS,
    PAPER_GRID_TABLE,
    PAPER_KEY_OF_VARIANT,
    PAPER_RESULTS,
    PAPER_SOURCE,
    PARAMETER_COLUMNS,
    RUN_COLUMNS,
    TUNED_LLM_FAMILY,
    TUNING_BY_FAMILY,
    backbone,
    check_consistent,
    family_order,
    is_ok,
    metric_label,
    metric_value,
    resolve_metrics,
    run_label,
    split_hashes,
    tags,
    tuning,
)
from bench.report.frames import (  # noqa: F401
    CONFIG_GROUP_OF_FAMILY,
    COST_COLUMNS,
    HYPERPARAMETER_COLUMNS,
    VERSION_SETTING,
    add_places,
    by_family,
    cost_frame,
    flat_settings,
    hyperparameter_frame,
    improvements,
    paired_wilcoxon,
    parameter_frame,
    params_vs_metric,
    rank_index,
    representative_runs,
    runs_frame,
    setting_text,
    summarize,
)
from bench.report.ablation_frames import (  # noqa: F401
    ablation_frame,
    ablation_records,
    attach_paper_order,
    attach_published,
    compare_with_paper,
    components,
    curves_frame,
    diagnostics_frame,
    expert_grid,
    expert_usage_frame,
    grid_coordinates,
    load_paper_results,
    memberships,
    paper_dataset,
    published_frame,
)
from bench.report.layout import (  # noqa: F401
    Cell,
    PROTOCOL,
    Section,
    TableView,
    WILCOXON_NOTE,
    WILCOXON_TEST,
    fmt,
    fmt_count,
    fmt_p,
    summary_cell,
)
from bench.report.views import (  # noqa: F401
    ablation_view,
    cost_section,
    cost_view,
    grid_view,
    hyperparameter_sections,
    hyperparameter_views,
    main_csv,
    main_view,
    parameter_csv,
    parameter_view,
    published_parameters_view,
    published_view,
)
from bench.report.render import (  # noqa: F401
    LATEX_PACKAGES_COMMENT,
    cell_latex,
    cell_markdown,
    latex_document,
    latex_table,
    latex_tabular,
    markdown_table,
    cell_text,
    text_table,
)
from bench.report.build import (  # noqa: F401
    STALE_NOTE,
    ablation_report,
    ablation_section,
    ablation_sections,
    build_reports,
    main_section,
    parameter_section,
    readme,
    stale_lines,
    suite_figures,
    suite_records,
    suite_report,
    write_report,
    write_sections,
)
