"""The claims page's tables: the claims with their verdicts, the probes, the controls."""

from __future__ import annotations

from bench.report.layout import Cell, TableView, WILCOXON_TEST, _present, fmt, fmt_p
from bench.report.records import ALPHA, metric_label

VERDICT_WORDS = {
    "holds": "the paired test is significant (p < {alpha}) in the paper's direction",
    "reversed": "significant in the opposite direction (for the Table 3 count: the share is not under the paper's bound)",
    "not significant": "the paired test cannot tell the two sides apart at p < {alpha}",
    "untested here": "no finished run of this harness tests it",
}


def _mean_std(mean: float, std: float, seeds) -> str:
    text = fmt(mean) + (f" ± {fmt(std)}" if _present(std) else "")
    return f"{text} ({seeds} seed{'s' if seeds != 1 else ''})"


def _percent(value: float) -> str:
    return f"{value:+.1f}%" if _present(value) else "–"


def _ours(r) -> str:
    if r.verdict == "untested here" or not isinstance(r.a, str):
        return "–"
    if r.metric == "trainable %":
        return f"{r.a_mean:.2f}% trainable ({r.a})"
    return f"{r.a} {_mean_std(r.a_mean, r.a_std, r.a_seeds)} vs {r.b} {_mean_std(r.b_mean, r.b_std, r.b_seeds)}"


def _effect(r) -> str:
    if not _present(r.effect_percent):
        return "–"
    interval = f" [{r.ci_low:+.1f}, {r.ci_high:+.1f}]" if _present(r.ci_low) else ""
    return _percent(r.effect_percent) + interval + f" ({r.users} users, {r.paired_seeds} seed{'s' if r.paired_seeds != 1 else ''})"


def _conditions(r) -> str:
    if r.dataset == "-":
        return "–"
    measured = metric_label(r.metric) if r.metric != "trainable %" else "parameter count"
    return f"{r.dataset}; {r.backbone}; `{r.profile}` profile; {'validation ' if r.stage == 'valid' else ''}{measured}"


def claims_view(frame) -> TableView:
    rows = []
    for r in frame.itertuples(index=False):
        rows.append([
            Cell(r.claim), Cell(f"{r.source}: {r.statement}"), Cell(r.paper if isinstance(r.paper, str) else ""), Cell(_ours(r)),
            Cell(_effect(r)), Cell(fmt_p(r.p_value)), Cell(_conditions(r)), Cell(r.verdict, bold=r.verdict in ("holds", "reversed")),
        ])
    notes = [
        "Paper: the paper's own figure for the claim (its Amazon datasets with ChatGLM2-6B): a stated range, or read from its table.",
        "Ours: each side's mean ± sample std over its seeds (the first side is the one the paper puts higher; where several runs could stand for a side, its best row does: the best baseline).",
        "Effect here: the first side against the second in the paper's terms (a gain in % of the second side for Table 2 and Fig. 4, the second side's drop in % of the first for the ablations), "
        "over the users and seeds both sides have, with a 95% interval from a paired bootstrap over users (2,000 resamples, seeded).",
        "p: " + WILCOXON_TEST.format(pair="first side vs second") + ".",
        "Verdict: " + "; ".join(f"{v}: {w.format(alpha=ALPHA)}" for v, w in VERDICT_WORDS.items()) + ". The verdict is on the direction; compare the sizes in the two columns before it.",
    ]
    notes += [f"{r.claim}: {r.note.strip().rstrip('.')}." for r in frame.itertuples(index=False) if isinstance(r.note, str) and r.note.strip()]
    columns = ["Id", "Claim", "Paper", "Ours", "Effect here [95% CI]", "p", "Conditions", "Verdict"]
    return TableView("The paper's claims, tested on this harness's runs", columns, rows, notes=notes, left=len(columns))


def probe_view(frame, metric: str = "ndcg@10") -> TableView:
    rows = []
    previous = None
    for r in frame.itertuples(index=False):
        name = f"{r.name} ({r.dataset})"
        if name != previous:
            rows.append([Cell(name), Cell("unprobed"), Cell(fmt(r.reference_mean)), Cell(""), Cell("")])
            previous = name
        if r.seeds == 0:
            rows.append([Cell(""), Cell(r.probe), Cell("failed"), Cell("–"), Cell("–")])
            continue
        change = _percent(r.change_percent) + (f" [{r.ci_low:+.1f}, {r.ci_high:+.1f}]" if _present(r.ci_low) else "")
        mark = "†" if r.failed else ""
        rows.append([Cell(""), Cell(r.probe), Cell(_mean_std(r.mean, r.std, r.seeds), mark=mark), Cell(change), Cell(fmt_p(r.p_value))])
    notes = [
        "A probe changes one input of a trained run at test time: id_shuffled, each user's ID-encoder states are another user's (a seeded derangement; user side only); "
        "item_id_shuffled, each item's prefix comes from another item's ID state (item side only); id_mean, every ID state is the mean state (both sides); "
        "text_shuffled, the item-to-title map is permuted in history and item prompts alike; text_blank, user prompts keep no history titles.",
        f"Test {metric_label(metric)}; unprobed: the same runs scored in the probes' sitting where the record has it, else their own test result, over the seeds the probes ran. "
        "Change: the probed run against the unprobed one, in % of the unprobed, with a 95% paired-bootstrap interval over users.",
        "p: " + WILCOXON_TEST.format(pair="probed vs unprobed") + ".",
    ]
    if (frame["failed"] > 0).any():
        notes.append("†: the probe failed on some seeds (the error is in the run record); the value is over the others.")
    return TableView(f"Attribution probes: test {metric_label(metric)}", ["Method", "Probe", metric_label(metric), "Change", "p"], rows, notes=notes, left=2)


def control_view(frame, metric: str = "ndcg@10") -> TableView:
    rows = []
    for r in frame.itertuples(index=False):
        row = [Cell(f"{r.name} ({r.dataset})"), Cell(_mean_std(r.mean, r.std, r.seeds))]
        for side in ("bert4rec", "laser"):
            effect, low, high, p = (getattr(r, f"{side}_{c}") for c in ("effect_percent", "ci_low", "ci_high", "p_value"))
            row += [Cell(_percent(effect) + (f" [{low:+.1f}, {high:+.1f}]" if _present(low) else "")), Cell(fmt_p(p))]
        row.append(Cell(r.lambdas or "–"))
        rows.append(row)
    notes = [
        "mformer_tower: the same frozen ID encoder, M-Former, pre-training, losses and phases as Laser with no LLM (M-Former's pooled, projected query outputs scored by cos/tau): "
        "how much M-Former alone draws from the encoder. laser_fusion: a finished Laser run's scores and its own BERT4Rec encoder's, each standardised per user over items, "
        "added with weight lambda on BERT4Rec (chosen on validation): whether Laser's text path knows something BERT4Rec does not.",
        f"Test {metric_label(metric)}. vs X: the control against row X of the same dataset, in % of X's mean over the seeds both ran, with a 95% paired-bootstrap interval over users; "
        "p: " + WILCOXON_TEST.format(pair="control vs X") + ".",
        "lambda: the fusion weight each seed chose on validation.",
    ]
    columns = ["Control", metric_label(metric), "vs bert4rec", "p", "vs laser", "p", "lambda"]
    return TableView(f"Controls: test {metric_label(metric)}", columns, rows, notes=notes, left=1)


def verdict_counts(frame) -> str:
    counts = frame["verdict"].value_counts()
    parts = [f"{counts[v]} {v}" for v in ("holds", "reversed", "not significant", "untested here") if v in counts]
    return ", ".join(parts) if parts else "no claims"
