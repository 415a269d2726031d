"""Report figures, drawn from the frames of `bench.report` (frames), saved as PNG and PDF.

matplotlib is imported inside the functions and used through its object API with the Agg
canvas (no pyplot, no global backend switch). Each function returns the files it wrote, or []
when its frame is empty.
"""

from __future__ import annotations

from pathlib import Path

PANEL = (4.8, 3.6)  # inches per panel
# no creation date and no matplotlib version in the files: regenerating a report from unchanged
# records must leave committed figures byte-identical (matplotlib's default stamps the time)
METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Creator": None, "Producer": None}}


def _figure(panels: int, size: tuple[float, float] = PANEL):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * panels, size[1]), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(1, panels, squeeze=False)[0])


def _save(fig, folder: Path, stem: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    for path in paths:
        fig.savefig(path, dpi=150, metadata=METADATA[path.suffix[1:]])
    return paths


def _colors(names) -> dict:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {name: cmap(i % 10) for i, name in enumerate(dict.fromkeys(names))}


def ablation_bars(summary, folder: Path, stem: str) -> list[Path]:
    """Grouped bars per dataset: metrics on x, one bar per variant, error bars = std over seeds."""
    import numpy as np

    from bench.report.records import metric_label

    summary = summary[summary["n_ok"] > 0]
    if summary.empty:
        return []
    datasets = list(dict.fromkeys(summary["dataset"]))
    fig, axes = _figure(len(datasets))
    colors = _colors(summary["name"])
    for ax, dataset in zip(axes, datasets):
        part = summary[summary["dataset"] == dataset]
        metrics = list(dict.fromkeys(part["metric"]))
        names = list(dict.fromkeys(part["name"]))
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            rows = part[part["name"] == name].set_index("metric").reindex(metrics)
            x = np.arange(len(metrics)) + (i - (len(names) - 1) / 2) * width
            ax.bar(x, rows["mean"], width, yerr=rows["std"].fillna(0), capsize=3, label=name, color=colors[name])
        ax.set_xticks(np.arange(len(metrics)), [metric_label(m) for m in metrics])
        ax.set_title(dataset)
        ax.set_ylabel("test value")
        ax.legend(fontsize="small")
    return _save(fig, folder, stem)


def params_scatter(frame, metric_label: str, folder: Path, stem: str) -> list[Path]:
    """Trainable parameters (log x) vs the metric, one point per method, coloured by family."""
    frame = frame[frame["trainable"].fillna(0) > 0]
    if frame.empty:
        return []
    datasets = list(dict.fromkeys(frame["dataset"]))
    fig, axes = _figure(len(datasets))
    colors = _colors(frame["family"])
    for ax, dataset in zip(axes, datasets):
        part = frame[frame["dataset"] == dataset]
        for family, rows in part.groupby("family", sort=False):
            ax.errorbar(rows["trainable"], rows["mean"], yerr=rows["std"].fillna(0), fmt="o", capsize=3, color=colors[family], label=family)
        for row in part.itertuples(index=False):
            ax.annotate(row.name, (row.trainable, row.mean), textcoords="offset points", xytext=(4, 4), fontsize="small")
        ax.set_xscale("log")
        ax.set_xlabel("trainable parameters")
        ax.set_ylabel(f"test {metric_label}")
        ax.set_title(dataset)
        ax.legend(fontsize="small")
    return _save(fig, folder, stem)


def expert_usage(frame, folder: Path, stem: str) -> list[Path]:
    """Stacked bars: for each user group, the fraction of users routed to each M-Former expert."""
    import numpy as np

    if frame.empty:
        return []
    panels = list(dict.fromkeys(zip(frame["name"], frame["dataset"])))
    fig, axes = _figure(len(panels))
    colors = _colors(sorted(set(frame["expert"])))
    for ax, (name, dataset) in zip(axes, panels):
        part = frame[(frame["name"] == name) & (frame["dataset"] == dataset)]
        table = part.pivot_table(index="group", columns="expert", values="fraction", sort=False).fillna(0)
        bottom = np.zeros(len(table))
        for expert in table.columns:
            ax.bar([str(g).replace(" items", "").replace(" (", "\n(") for g in table.index], table[expert], bottom=bottom, color=colors[expert], label=f"expert {expert}")
            bottom += table[expert].to_numpy()
        ax.set_ylabel("fraction of test users")
        ax.set_title(f"{name} on {dataset}")
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, folder, stem)


def training_curves(frame, folder: Path, stem: str) -> list[Path]:
    """Validation NDCG@10 per epoch, a line per (method, seed), one panel per dataset."""
    from matplotlib.ticker import MaxNLocator

    if frame.empty:
        return []
    datasets = list(dict.fromkeys(frame["dataset"]))
    fig, axes = _figure(len(datasets))
    colors = _colors(frame["name"])
    for ax, dataset in zip(axes, datasets):
        part = frame[frame["dataset"] == dataset]
        for name in dict.fromkeys(part["name"]):
            for i, (_, rows) in enumerate(part[part["name"] == name].groupby("seed")):
                rows = rows.sort_values("epoch")
                ax.plot(rows["epoch"], rows["value"], marker=".", color=colors[name], label=name if i == 0 else None)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation NDCG@10")
        ax.set_title(dataset)
        ax.legend(fontsize="small")
    return _save(fig, folder, stem)


def training_diagnostics(frame, folder: Path, stem: str) -> list[Path]:
    """Three panels by examples seen: training loss per epoch (solid) against a uniform guess over
    the same candidates (dashed) and MostPop's full-softmax cross-entropy (dotted; read it against
    phase 2, whose candidates are all items); the item matrix's mean pairwise cosine; its
    effective rank. A line per (method, seed)."""
    if frame.empty:
        return []
    fig, axes = _figure(3)
    colors = _colors(frame["name"])
    for (name, dataset, seed), rows in frame.groupby(["name", "dataset", "seed"], sort=False):
        label = f"{name} ({dataset}, seed {seed})"
        trained = rows[rows["loss"].notna()]
        axes[0].plot(trained["examples_seen"], trained["loss"], marker=".", color=colors[name], label=label)
        axes[0].plot(trained["examples_seen"], trained["loss_uniform"], ls="--", color=colors[name], alpha=0.6)
        axes[0].axhline(rows["mostpop_ce"].iloc[0], ls=":", color=colors[name], alpha=0.6)
        axes[1].plot(rows["examples_seen"], rows["mean_cosine"], marker=".", color=colors[name], label=label)
        axes[2].plot(rows["examples_seen"], rows["effective_rank"], marker=".", color=colors[name], label=label)
    for ax, ylabel in zip(axes, ("training loss (-- uniform, : MostPop)", "item matrix mean cosine", "item matrix effective rank")):
        ax.set_xlabel("training examples seen")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize="x-small")
    return _save(fig, folder, stem)


# ours per verdict: green where the paper's direction holds, red where it is reversed
VERDICT_COLORS = {"holds": "tab:green", "reversed": "tab:red", "not significant": "tab:gray"}


def claims_figure(frame, folder: Path, stem: str) -> list[Path]:
    """One row per claim (and dataset), top to bottom in the table's order: the paper's effect as
    a hollow diamond (a stated range as a line between two), ours as a dot with its 95% interval,
    coloured by verdict, and a line at zero; a claim without an effect here says why in words."""
    import textwrap

    from matplotlib.lines import Line2D

    if frame.empty:
        return []
    several = frame.loc[frame["dataset"] != "-", "dataset"].nunique() > 1
    fig, (ax,) = _figure(1, (9.5, 0.42 * len(frame) + 1.4))
    labels = []
    for y, r in enumerate(frame.itertuples(index=False)):
        label = f"{r.claim}: {r.statement}" + (f" ({r.dataset})" if several and r.dataset != "-" else "")
        labels.append(textwrap.fill(label, 46))
        if r.paper_low == r.paper_low:  # not NaN
            ax.plot([r.paper_low, r.paper_high], [y, y], color="black", lw=1, marker="D", mfc="none", ms=6, zorder=2)
        if r.effect_percent == r.effect_percent:
            ax.errorbar(r.effect_percent, y, xerr=[[r.effect_percent - r.ci_low], [r.ci_high - r.effect_percent]], fmt="o", capsize=3, color=VERDICT_COLORS.get(r.verdict, "tab:gray"), zorder=3)
        else:
            words = r.verdict if r.metric != "trainable %" else f"a count: {r.a_mean:.2f}% trainable, {r.verdict}"
            ax.annotate(words, (0.01, y), xycoords=("axes fraction", "data"), va="center", fontsize="small", color="dimgray", style="italic")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(frame)), labels, fontsize="small")
    ax.set_ylim(len(frame) - 0.5, -0.5)
    ax.set_xlabel("effect in the paper's direction, % (gain over the second side, or its drop in % of the first)")
    handles = [Line2D([], [], color="black", marker="D", mfc="none", lw=1, label="paper (a range: both ends)")]
    handles += [Line2D([], [], color=c, marker="o", lw=1, label=f"here, 95% CI: {v}") for v, c in VERDICT_COLORS.items()]
    fig.legend(handles=handles, fontsize="x-small", loc="outside lower center", ncols=4)
    return _save(fig, folder, stem)


def scale_figure(frame, folder: Path, stem: str) -> list[Path]:
    """Laser / BERT4Rec per measured step, top to bottom in the steps' order, with lines at 1
    (level with BERT4Rec) and at the 0.8 goal, and M-Former alone (the tower) / BERT4Rec where it
    ran; steps with neither are left out."""
    import textwrap

    done = frame[frame["ratio"].notna() | frame["tower_ratio"].notna()]
    if done.empty:
        return []
    fig, (ax,) = _figure(1, (7.5, 0.45 * len(done) + 1.4))
    labels = [textwrap.fill(f"{r.step} ({r.dataset})", 44) for r in done.itertuples(index=False)]
    rows = range(len(done))
    ax.plot(done["ratio"].to_numpy(), rows, "o", color="tab:blue", zorder=3, label="Laser")
    ax.plot(done["tower_ratio"].to_numpy(), rows, "D", mfc="none", color="tab:orange", zorder=3, label="M-Former alone (mformer_tower)")
    for y, r in enumerate(done.itertuples(index=False)):
        if r.ratio == r.ratio:  # not NaN
            ax.annotate(f"{r.ratio:.2f}x", (r.ratio, y), textcoords="offset points", xytext=(6, 0), va="center", fontsize="small")
    ax.axvline(1.0, color="black", lw=0.8, label="level with BERT4Rec")
    ax.axvline(0.8, color="tab:green", lw=0.8, ls="--", label="goal: 0.8x")
    ax.set_yticks(range(len(done)), labels, fontsize="small")
    ax.set_ylim(len(done) - 0.5, -0.5)
    ax.set_xlim(0, max(1.2, float(done[["ratio", "tower_ratio"]].max().max()) + 0.15))
    ax.set_xlabel("against BERT4Rec, validation NDCG@10")
    fig.legend(fontsize="x-small", loc="outside lower center", ncols=2)
    return _save(fig, folder, stem)
