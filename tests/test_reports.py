"""`bench report` on synthetic run records written with `bench.results.write_record`."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import report as reports
from bench import report as rt  # frames and views share the package's public names
from bench.configs import content_hash
from bench.errors import UserError
from bench.metrics import metrics_from_ranks
from bench.results import record_path, write_record
from tests.latex import compile_tex

N_USERS, N_ITEMS = 200, 500
SPLIT = "0123456789abcdef"
# display name -> (registry method, family, uses IDs, geometric p of the target's rank: higher = better)
METHODS = {
    "sasrec": ("sasrec", "ID-based", True, 0.06),
    "bert4rec": ("bert4rec", "ID-based", True, 0.04),
    "llmrec": ("gru4rec", "LLM-based (tuned LLM)", False, 0.05),
    "laser": ("laser", "Laser", True, 0.15),
}
ID_CONFIG = {"max_seq_length": 20}


def ranks_for(p: float, seed: int, n_users: int = N_USERS) -> list[int]:
    rng = np.random.default_rng([seed, int(p * 1000)])
    return np.minimum(rng.geometric(p, n_users), N_ITEMS).tolist()


def make_record(name: str, seed: int = 0, dataset: str = "ml-100k", *, p: float | None = None, ranks=None, status: str = "ok", split_hash: str = SPLIT, config=None, tags=None, **extra) -> dict:
    method, family, uses_ids, default_p = METHODS.get(name.split("/")[0], METHODS["laser"])
    p = p or default_p
    test = ranks_for(p, seed) if ranks is None else list(ranks)
    valid = ranks_for(p, seed + 100)
    record = {
        "format": 1,
        "key": content_hash({"name": name, "dataset": dataset, "seed": seed, "split": split_hash, "config": config, "tags": tags}),
        "name": name,
        "method": method,
        "dataset": dataset,
        "seed": seed,
        "config": dict(ID_CONFIG if config is None else config),
        "split_hash": split_hash,
        "status": status,
        "family": family,
        "uses_collaborative_ids": uses_ids,
        "memory": {"peak_rss_mb": 900.0},
    }
    if tags:
        record["tags"] = tags
    if status != "ok":
        record.update(error="RuntimeError: out of memory", timings={"total_s": 3.0})
        return record
    trainable = {"laser": 1_200_000, "llmrec": 4_194_304}.get(name.split("/")[0], 110_000)
    record.update(
        metrics={"valid": metrics_from_ranks(valid), "test": metrics_from_ranks(test)},
        ranks={"valid": valid, "test": test},
        parameters={
            "trainable": trainable,
            "total": trainable + (134_515_008 if family != "ID-based" else 0),
            "trainable_percent": 100.0 * trainable / (trainable + (134_515_008 if family != "ID-based" else 0)),
            "llm_side_trainable": 19_008 if family == "Laser" else None,
        },
        timings={"fit_s": 10.0, "eval_s": 1.0, "total_s": 11.0},
        training={"epochs": 4, "best_epoch": 3, "curve": [{"epoch": e, "valid_ndcg@10": 0.02 * (e + 1) + 0.001 * seed} for e in range(4)]},
    )
    record.update(extra)
    return record


def write(results: Path, record: dict) -> dict:
    write_record(record_path(results, record["dataset"], record["name"], record["key"]), record)
    return record


def suite_file(tmp_path: Path, datasets=("ml-100k",), seeds=(0, 1)) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            datasets: [{", ".join(datasets)}]
            seeds: [{", ".join(map(str, seeds))}]
            methods:
              sasrec: {{max_seq_length: 20}}
              bert4rec: {{max_seq_length: 20}}
              llmrec: {{method: gru4rec, max_seq_length: 20}}
              laser: {{method: laser, max_seq_length: 20}}
            """
        )
    )
    return path


def main_tables(records, metrics=("recall@10", "ndcg@10", "mrr")):
    runs = rt.runs_frame(records, metrics)
    summary = rt.by_family(rt.add_places(rt.summarize(runs, metrics, rows=("family", "name", "method", "uses_ids"))))
    return summary, rt.improvements(summary, records)


def seeded(names=("sasrec", "bert4rec", "llmrec", "laser"), seeds=(0, 1)) -> list[dict]:
    return [make_record(n, s) for n in names for s in seeds]


# ---------------------------------------------------------------- the main table's numbers


def test_bold_and_underline_land_on_the_true_best_and_runner_up():
    records = seeded()
    summary, improv = main_tables(records)
    col = summary[summary["metric"] == "ndcg@10"].set_index("name")
    truth = {n: np.mean([r["metrics"]["test"]["ndcg@10"] for r in records if r["name"] == n]) for n in METHODS}
    ordered = sorted(truth, key=truth.get, reverse=True)
    assert col.loc[ordered[0], "place"] == 1 and ordered[0] == "laser"
    assert col.loc[ordered[1], "place"] == 2
    assert (col.drop(ordered[:2])["place"] == 0).all()
    assert col.loc["laser", "mean"] == pytest.approx(truth["laser"])

    view = reports.main_view(summary, improv, ["recall@10", "ndcg@10", "mrr"])
    laser_row = next(r for r in view.rows if r[1].text == "laser")
    runner_row = next(r for r in view.rows if r[1].text == ordered[1])
    ndcg = view.columns.index("NDCG@10")
    assert laser_row[ndcg].bold and not laser_row[ndcg].underline
    assert runner_row[ndcg].underline and not runner_row[ndcg].bold
    assert r"\textbf{" + f"{truth['laser']:.4f}" in reports.cell_latex(laser_row[ndcg])
    assert "± " in laser_row[ndcg].text  # two seeds: mean ± std


def test_rows_are_grouped_by_family_in_the_papers_order():
    records = [make_record(n) for n in ("laser", "llmrec", "sasrec", "bert4rec")]
    summary, improv = main_tables(records)
    view = reports.main_view(summary, improv, ["ndcg@10"])
    assert [r[1].text for r in view.rows] == ["sasrec", "bert4rec", "llmrec", "laser", "Improv."]
    assert [r[0].text for r in view.rows] == ["ID-based", "", "LLM-based (tuned LLM)", "Laser", ""]
    assert view.breaks == [2, 3, 4]
    assert [r[2].text for r in view.rows[:4]] == ["yes", "yes", "no", "yes"]


def pop_record(seed: int = 0) -> dict:
    record = make_record("pop", seed, p=0.01, config={})
    record.update(method="pop", family=rt.FLOOR_FAMILY, parameters={"trainable": 0, "total": 0, "trainable_percent": 0.0, "llm_side_trainable": None})
    return record


def test_the_floor_closes_the_main_table_below_the_improv_row():
    records = [pop_record()] + [make_record(n) for n in ("laser", "llmrec", "sasrec")]
    summary, improv = main_tables(records)
    view = reports.main_view(summary, improv, ["ndcg@10"])
    assert [r[1].text for r in view.rows] == ["sasrec", "llmrec", "laser", "Improv.", "pop"]
    assert [r[0].text for r in view.rows] == ["ID-based", "LLM-based (tuned LLM)", "Laser", "", rt.FLOOR_FAMILY]
    assert view.breaks == [1, 2, 3, 4]
    assert any(n.startswith(f"{rt.FLOOR_FAMILY} (last rows): the floor") for n in view.notes)
    assert set(improv["baseline"]) == {"sasrec"}  # the floor is a baseline like any other, just never the best
    params = rt.parameter_frame(records).set_index("name")
    assert list(params.index) == ["sasrec", "llmrec", "laser", "pop"]
    assert (params.loc["pop", "backbone"], params.loc["pop", "tuning"], params.loc["pop", "trainable"]) == ("-", "none (training counts)", 0)
    without = [r for r in records if r["name"] != "pop"]
    assert not any("the floor" in n for n in reports.main_view(*main_tables(without), ["ndcg@10"]).notes)


def test_controls_form_their_own_group_below_improv_and_take_no_place():
    """The harness's controls are not the paper's methods: a group of their own under Improv.,
    never bold, never the baseline Laser is measured against, even when far above every row."""
    fusion = make_record("laser_fusion", p=0.5)
    fusion.update(method="laser_fusion", family=rt.CONTROL_FAMILY)
    records = [pop_record(), fusion] + [make_record(n) for n in ("laser", "sasrec", "bert4rec")]
    summary, improv = main_tables(records, ["ndcg@10"])
    assert improv["baseline"].tolist() == ["sasrec"]
    places = summary.set_index("name")["place"]
    assert places["laser_fusion"] == 0 and places["laser"] == 1 and places["sasrec"] == 2
    view = reports.main_view(summary, improv, ["ndcg@10"])
    assert [r[1].text for r in view.rows] == ["sasrec", "bert4rec", "laser", "Improv.", "laser_fusion", "pop"]
    assert [r[0].text for r in view.rows] == ["ID-based", "", "Laser", "", rt.CONTROL_FAMILY, rt.FLOOR_FAMILY]
    assert view.breaks == [2, 3, 4, 5]
    assert any(n.startswith("control (below Improv.)") for n in view.notes)
    assert rt.family_order(["control", "Non-personalised", "Laser", "Other"]) == ["Laser", "Other", "control", "Non-personalised"]


def test_laser_is_tested_against_the_floor_too():
    from scipy.stats import wilcoxon

    from bench.metrics import per_user_metric

    records = [pop_record()] + [make_record(n) for n in ("laser", "sasrec")]
    summary, improv = main_tables(records)
    versus_floor = rt.improvements(summary, records, family=rt.FLOOR_FAMILY)
    assert set(versus_floor["baseline"]) == {"pop"} and set(improv["baseline"]) == {"sasrec"}
    ranks = {r["name"]: r["ranks"]["test"] for r in records}
    p = wilcoxon(per_user_metric(ranks["laser"], "ndcg@10") - per_user_metric(ranks["pop"], "ndcg@10")).pvalue
    row = versus_floor.set_index("metric").loc["ndcg@10"]
    assert row["p_value"] == pytest.approx(p)
    notes = reports.main_view(summary, improv, ["ndcg@10"], versus_floor).notes
    assert f"ml-100k NDCG@10: laser vs the floor (pop), {row['improv_percent']:+.1f}%, p = {p:.3g} ({N_USERS} users, 1 seed)." in notes


def test_laser_is_tested_against_each_tuned_llm_baseline_by_name():
    from scipy.stats import wilcoxon

    from bench.metrics import per_user_metric

    # two tuned-LLM rows, the weaker one not the best of its family: each gets its own comparison
    fullft = make_record("llmrec", p=0.03)
    fullft.update(name="fullft", key="fullft")
    records = [make_record(n) for n in ("laser", "sasrec", "llmrec")] + [fullft]
    summary, improv = main_tables(records)
    versus = rt.improvements(summary, records, family=rt.TUNED_LLM_FAMILY, each=True)
    assert sorted(versus.loc[versus["metric"] == "ndcg@10", "baseline"]) == ["fullft", "llmrec"]
    assert len(rt.improvements(summary, records, family=rt.TUNED_LLM_FAMILY)) == 3  # best only: one per metric
    ranks = {r["name"]: r["ranks"]["test"] for r in records}
    row = versus.set_index(["metric", "baseline"]).loc[("ndcg@10", "fullft")]
    assert row["p_value"] == pytest.approx(wilcoxon(per_user_metric(ranks["laser"], "ndcg@10") - per_user_metric(ranks["fullft"], "ndcg@10")).pvalue)
    notes = reports.main_view(summary, improv, ["ndcg@10"], versus_llm=versus).notes
    assert sum("laser vs fullft (tuned LLM" in n for n in notes) == 3 and sum("laser vs llmrec (tuned LLM" in n for n in notes) == 3


def test_improv_is_the_gain_over_the_best_non_laser_method():
    records = seeded()
    summary, improv = main_tables(records)
    for metric in ("recall@10", "ndcg@10", "mrr"):
        mean = {n: np.mean([r["metrics"]["test"][metric] for r in records if r["name"] == n]) for n in METHODS}
        best_base = max(("sasrec", "bert4rec", "llmrec"), key=mean.get)
        row = improv.set_index("metric").loc[metric]
        assert row["baseline"] == best_base and row["laser"] == "laser"
        assert row["improv_percent"] == pytest.approx((mean["laser"] - mean[best_base]) / mean[best_base] * 100)
    view = reports.main_view(summary, improv, ["ndcg@10"])
    gain = improv.set_index("metric").loc["ndcg@10", "improv_percent"]
    assert view.rows[-1][3].text == f"{gain:+.1f}%"


def test_wilcoxon_marks_a_clearly_better_laser_and_not_an_identical_one():
    better, _ = main_tables(seeded(("sasrec", "laser")))
    improv = rt.improvements(better, seeded(("sasrec", "laser")))
    assert improv["significant"].all() and (improv["p_value"] < 1e-4).all()
    assert (improv["seeds"] == 2).all() and (improv["users"] == N_USERS).all()
    view = reports.main_view(better, improv, ["recall@10", "ndcg@10", "mrr"])
    assert [c.mark for c in view.rows[-1][3:]] == ["*", "*", "*"]
    assert any("Wilcoxon signed-rank" in n for n in view.notes)

    same = [make_record("sasrec", s) for s in (0, 1)] + [make_record("laser", s, ranks=ranks_for(0.06, s)) for s in (0, 1)]
    summary, improv = main_tables(same)
    assert (improv["improv_percent"] == 0).all() and (improv["p_value"] == 1.0).all() and not improv["significant"].any()
    assert all(c.mark == "" for c in reports.main_view(summary, improv, ["ndcg@10"]).rows[-1])


def test_a_significantly_worse_laser_gets_its_own_mark_and_the_legend_says_both_directions():
    """Laser far below BERT4Rec (p ~ 1e-6 on the committed tables) once carried no mark, which
    read as "no significant difference"."""
    records = seeded(("bert4rec", "laser"))
    worse = [r if r["name"] != "laser" else make_record("laser", r["seed"], p=0.02) for r in records]
    summary, improv = main_tables(worse)
    assert (improv["improv_percent"] < 0).all() and (improv["p_value"] < 1e-4).all()
    assert improv["significantly_worse"].all() and not improv["significant"].any()
    view = reports.main_view(summary, improv, ["recall@10", "ndcg@10", "mrr"])
    assert [c.mark for c in view.rows[-1][3:]] == [rt.WORSE_MARK] * 3 and rt.WORSE_MARK != rt.BETTER_MARK
    legend = next(n for n in view.notes if "Wilcoxon" in n)
    assert "*: Laser significantly better" in legend and "↓: Laser significantly worse" in legend
    csv = reports.main_csv(summary, improv)
    assert csv.loc[csv["family"] == "Improv.", "significantly_worse"].all()
    assert "$^{\\downarrow}$" in reports.latex_table(reports.Section("t", "t", [view], csv))
    better_summary, better = main_tables(seeded(("bert4rec", "laser")))  # Laser at p=0.15 is far above
    assert not better["significantly_worse"].any()
    assert [c.mark for c in reports.main_view(better_summary, better, ["mrr"]).rows[-1][3:]] == [rt.BETTER_MARK]


def test_every_caption_states_its_seed_count(tmp_path):
    records = seeded() + [pop_record(s) for s in (0, 1)] + [make_record("laser/no_moe", 0, config={"profile": "cpu"}, tags={"component": "m_former", "variant": "no_moe"})]
    for r in records:
        if r["name"] == "laser":
            r.update(config={"profile": "cpu"}, tags={"component": "m_former", "variant": "full"})
    summary, improv = main_tables([r for r in records if "/" not in r["name"]])
    assert reports.main_view(summary, improv, ["mrr"]).caption.endswith(", 2 seeds")
    sections, _ = reports.ablation_sections([r for r in records if r["method"] == "laser"], ["mrr"], rt.load_paper_results())
    (section,) = sections
    ours, published = section.views
    assert ours.caption.endswith(", 1-2 seeds per row") and "Seeds per row: laser 2, laser/no_moe 1." in ours.notes
    assert published.caption.endswith("the paper does not state its seeds")
    assert reports.cost_section(records).views[0].caption.endswith("1 seed per row (seed 0)")
    captions = [c for c, _ in reports.suite_figures(records, tmp_path)]
    assert captions and all(" seed" in c for c in captions)


def test_the_cost_table_takes_throughput_from_the_training_epochs_not_the_untrained_point():
    curve = [{"phase": "init", "epoch": -1, "examples_seen": 0, "valid_ndcg@10": 0.01},
             {"phase": "phase1", "epoch": 0, "valid_ndcg@10": 0.1, "examples_per_s": 2.0, "tokens_per_s": 200.0, "epoch_s": 30.0},
             {"phase": "phase2", "epoch": 1, "valid_ndcg@10": 0.2, "examples_per_s": 4.0, "tokens_per_s": 400.0, "epoch_s": 10.0}]
    costs = rt.cost_frame([make_record("laser", training={"epochs": 2, "curve": curve})]).set_index("name")
    assert (costs.loc["laser", "examples_per_s"], costs.loc["laser", "tokens_per_s"], costs.loc["laser", "epoch_s"]) == (3.0, 300.0, 20.0)


def test_a_row_whose_seeds_ran_at_different_precisions_says_so():
    def llm(name, seed, told=None):
        record = make_record(name, seed, resolved_config={"dtype": "auto", "autocast": "auto"})
        if told:
            record["training"] = {**record["training"], "precision": told}
        return record

    fp32 = {"dtype": "fp32", "autocast": "off"}
    # a record without the field ran where `auto` meant bf16 (every committed record did)
    records = [llm("laser", 0), llm("laser", 1, fp32), llm("llmrec", 0), llm("llmrec", 1, {"dtype": "bf16", "autocast": "bf16"})] + seeded(("sasrec",))
    mixed = rt.mixed_precision(records)
    assert mixed == {"laser": "seed 0: bf16 weights, autocast bf16; seed 1: fp32 weights, autocast off"}
    assert rt.precision(records[-1]) is None  # no LLM, no precision to mix
    # a record without the field from a host whose torch dispatched to AVX2: `auto` fell back to fp32 there
    avx2 = {**llm("laser", 2), "host": {"cpu_capability": "AVX2"}}
    assert rt.precision(avx2) == "fp32 weights, autocast off"
    assert rt.precision({**avx2, "host": {"cpu_capability": "AVX512"}}) == "bf16 weights, autocast bf16"
    summary, improv = main_tables(records)
    view = reports.main_view(summary, improv, ["mrr"], mixed=mixed)
    marks = {row[1].text: row[1].mark for row in view.rows}
    assert marks["laser"] == reports.MIXED_MARK and marks["llmrec"] == marks["sasrec"] == ""
    assert any(n.startswith(f"{reports.MIXED_MARK}: the row's seeds trained at different precisions") and mixed["laser"] in n for n in view.notes)


def test_wilcoxon_pairs_by_seed():
    a = {0: [1, 2, 3, 4] * 20, 1: [1] * 80}
    b = {0: [2, 3, 4, 5] * 20, 7: [1] * 80}
    p, users, seeds = rt.paired_wilcoxon(a, b, "mrr")
    assert (users, seeds) == (80, 1) and p < 0.05
    assert rt.paired_wilcoxon({0: [1, 2]}, {1: [1, 2]}, "mrr")[2] == 0


def test_failed_runs_show_failed_never_zero_or_blank(tmp_path):
    records = [make_record("sasrec"), make_record("bert4rec", status="failed"), make_record("laser"), make_record("laser", 1, status="failed")]
    unbuilt = make_record("llmrec", status="failed")  # failed before the method said its family
    del unbuilt["family"], unbuilt["uses_collaborative_ids"]
    records.append(unbuilt)
    for r in records:
        write(tmp_path / "results", r)
    suite = suite_file(tmp_path, seeds=(0, 1))
    reports.build_reports(tmp_path / "results", tmp_path / "out", suite=str(suite))
    table = pd.read_csv(tmp_path / "out" / "toy" / "main_table.csv")
    bert = table[table["name"] == "bert4rec"]
    assert (bert["mean"] == "failed").all() and (bert["status"] == "failed").all()
    assert (table[table["name"] == "laser"]["status"] == "partial").all()
    readme = (tmp_path / "out" / "toy" / "README.md").read_text()
    bert_line = next(line for line in readme.splitlines() if "| bert4rec |" in line)
    assert bert_line.count("failed") == 3 and "0.0000" not in bert_line
    assert "| Other | llmrec | ? | failed | failed | failed |" in readme
    laser_line = next(line for line in readme.splitlines() if "| laser |" in line)
    assert "<sup>†</sup>" in laser_line
    tex = (tmp_path / "out" / "toy" / "main_table.tex").read_text()
    assert "bert4rec & yes & failed & failed & failed" in tex
    params = pd.read_csv(tmp_path / "out" / "toy" / "parameters.csv")
    assert params.set_index("name").loc["bert4rec", "trainable"] == "failed"


def test_mixed_split_hashes_are_an_error_naming_runs_and_hashes(tmp_path):
    write(tmp_path, make_record("sasrec", split_hash="aaaa111122223333"))
    write(tmp_path, make_record("sasrec", split_hash="bbbb111122223333"))
    write(tmp_path, make_record("laser"))
    with pytest.raises(UserError) as err:
        reports.build_reports(tmp_path, tmp_path / "out", suite=str(suite_file(tmp_path)))
    message = str(err.value)
    assert "aaaa111122223333" in message and "bbbb111122223333" in message and "sasrec seed 0" in message
    assert not (tmp_path / "out").exists()


def test_two_runs_of_one_spec_on_one_split_are_an_error():
    records = [make_record("laser", config={"max_seq_length": 20, "llm": "/m/a"}), make_record("laser", config={"max_seq_length": 20, "llm": "/m/b"})]
    with pytest.raises(UserError, match=r"several runs for laser .*llm='/m/a' vs '/m/b'"):
        rt.check_consistent(records)


def test_suite_selection_matches_name_dataset_seed_and_config(tmp_path):
    keep = [make_record("sasrec", config={"max_seq_length": 20}), make_record("laser", config={"max_seq_length": 20, "llm": "/models/SmolLM2"})]
    drop = [
        make_record("sasrec", 1, config={"max_seq_length": 50}),  # other config
        make_record("sasrec", 5),  # seed not in the suite
        make_record("caser"),  # method not in the suite
        make_record("sasrec", dataset="ml-1m"),  # dataset not in the suite
    ]
    chosen = reports.suite_records(drop + keep, str(suite_file(tmp_path)))
    assert [r["key"] for r in chosen] == [r["key"] for r in keep]


def test_a_run_whose_set_values_became_the_defaults_stays_in_its_suite():
    """The runner finds such a run done (same key); the report must not drop it from the table."""
    from bench.runner import current_key, is_run_of

    path = next((Path(__file__).parent.parent / "results" / "runs" / "ml-100k").glob("lora-*.json"))
    record = json.loads(path.read_text())
    written_with_set = {**record, "config": {"profile": "cpu", "lr": record["resolved_config"]["lr"], "min_lr": record["resolved_config"]["min_lr"]}}
    assert current_key(written_with_set) == record["key"]  # the defaults are the chosen values
    assert reports.suite_records([written_with_set], "main") == []
    assert reports.suite_records([written_with_set], "main", is_run_of) == [written_with_set]
    other_lr = copy.deepcopy(written_with_set)
    other_lr["config"]["lr"] = record["resolved_config"]["lr"] / 3
    other_lr["key"] = current_key(other_lr)
    assert reports.suite_records([other_lr], "main", is_run_of) == []


def test_other_cut_offs_come_from_the_stored_ranks():
    records = seeded(("sasrec", "laser"), (0,))
    metrics = rt.resolve_metrics(ks=[5, 50])
    assert metrics == ["recall@5", "ndcg@5", "recall@50", "ndcg@50", "mrr"]
    runs = rt.runs_frame(records, metrics).set_index("name")
    ranks = np.asarray(records[0]["ranks"]["test"])
    assert runs.loc["sasrec", "recall@50"] == pytest.approx((ranks <= 50).mean())
    assert runs.loc["sasrec", "recall@5"] == records[0]["metrics"]["test"]["recall@5"]
    with pytest.raises(UserError, match="unknown metric 'hit@10'"):
        rt.resolve_metrics(["hit@10"])


# ---------------------------------------------------------------- parameters and ablations


def test_parameter_table_backbones_and_counts():
    records = [make_record("sasrec"), make_record("laser"), make_record("llmrec", config={"llm": "/models/Qwen2.5-0.5B/"})]
    params = rt.parameter_frame(records).set_index("name")
    assert params.loc["sasrec", "backbone"] == "-"
    assert params.loc["laser", "backbone"] == "SmolLM2-135M-Instruct"
    assert params.loc["llmrec", "backbone"] == "Qwen2.5-0.5B"
    assert params.loc["laser", "llm_side_trainable"] == 19_008 and params.loc["laser", "trainable"] == 1_200_000
    assert list(params.index) == ["sasrec", "llmrec", "laser"]
    assert reports.fmt_count(787_300_000) == "787.3M" and reports.fmt_count(4_194_000) == "4.194M"


def test_cost_table_puts_throughput_and_memory_beside_the_metrics():
    curve = [{"epoch": 0, "valid_ndcg@10": 0.1, "examples_per_s": 2.0, "tokens_per_s": 200.0, "epoch_s": 30.0},
             {"epoch": 1, "valid_ndcg@10": 0.2, "examples_per_s": 4.0, "tokens_per_s": 400.0, "epoch_s": 10.0}]
    laser = make_record("laser", training={"epochs": 2, "curve": curve}, memory={"peak_rss_mb": 2500.0, "cuda_max_allocated_mb": 1800.0})
    records = [make_record("sasrec"), laser, make_record("llmrec", status="failed")]
    costs = rt.cost_frame(records).set_index("name")
    assert costs.loc["laser", "examples_per_s"] == 3.0 and costs.loc["laser", "tokens_per_s"] == 300.0 and costs.loc["laser", "epoch_s"] == 20.0
    assert costs.loc["laser", "ndcg@10"] == laser["metrics"]["test"]["ndcg@10"] and costs.loc["laser", "trainable"] == 1_200_000
    assert pd.isna(costs.loc["sasrec", "examples_per_s"])  # RecBole reports no throughput: blank, not 0
    view = reports.cost_view(costs.reset_index().rename(columns={"recall@10": "recall_10", "ndcg@10": "ndcg_10"}))
    cells = {row[0].text: [c.text for c in row] for row in view.rows}
    assert cells["laser"][-1] == "1,800 (GPU)" and cells["sasrec"][-1] == "900"
    assert cells["sasrec"][7] == "–" and cells["llmrec"][2:] == ["failed"] * 9


def ablation_records() -> list[dict]:
    out = []
    for seed in (0, 1):
        cpu = {"profile": "cpu"}
        out.append(make_record("laser", seed, config=cpu, tags={"component": "suffix", "variant": "full"}))
        for variant, p in (("no_moe", 0.12), ("no_mformer", 0.08)):
            out.append(make_record(f"laser/{variant}", seed, p=p, config=cpu, tags={"component": "m_former", "variant": variant}))
        out.append(make_record("laser/mean_pool", seed, p=0.03, config=cpu, tags={"component": "suffix", "variant": "prefix_only_mean"}))
    return out


def test_ablation_drop_is_relative_to_the_full_model_borrowed_across_components():
    records = ablation_records()
    chosen, borrowed = rt.ablation_records(records, "m_former")
    assert borrowed == "suffix" and sum(rt.tags(r)["variant"] == "full" for r in chosen) == 2
    summary = rt.ablation_frame(chosen, ["ndcg@10"]).set_index("variant")
    full = np.mean([r["metrics"]["test"]["ndcg@10"] for r in records if r["name"] == "laser"])
    no_moe = np.mean([r["metrics"]["test"]["ndcg@10"] for r in records if r["name"] == "laser/no_moe"])
    assert summary.loc["no_moe", "drop_percent"] == pytest.approx((full - no_moe) / full * 100)
    assert summary.loc["full", "drop_percent"] == 0
    assert list(summary.index) == ["full", "no_moe", "no_mformer"]


def test_a_shared_full_run_serves_every_component_it_lists():
    full = make_record("laser", config={"profile": "cpu"}, tags={"component": "m_former", "variant": "full"}, also_tags=[{"component": "suffix", "variant": "full"}])
    eos = make_record("laser/prefix_only_eos", p=0.05, config={"profile": "cpu", "readout": "eos"}, tags={"component": "suffix", "variant": "prefix_only_eos"})
    assert rt.components([full, eos]) == ["m_former", "suffix"]
    chosen, borrowed = rt.ablation_records([full, eos], "suffix")
    assert borrowed is None and [rt.tags(r) for r in chosen] == [{"component": "suffix", "variant": "full"}, eos["tags"]]
    summary = rt.ablation_frame(chosen, ["mrr"]).set_index("variant")
    assert summary.loc["prefix_only_eos", "drop_percent"] > 0


def paper_ablation_records(moe_p: float = 0.12) -> list[dict]:
    """Three seeds on amazon-scientific (the paper's Scientific, Table 4): the full model, no_moe at
    `moe_p` (above the full model's 0.10 by default, below it in the paper), no_mformer below it as in
    the paper, no_stage2 near it (its side is for the test to compute), no_stage1 with the full
    model's own ranks (equal)."""
    out = []
    for seed in (0, 1, 2):
        def run(variant, **kw):
            name = "laser" if variant == "full" else f"laser/{variant}"
            return make_record(name, seed, "amazon-scientific", config={"profile": "cpu", "v": variant}, tags={"component": "m_former", "variant": variant}, **kw)

        out += [run("full", p=0.10), run("no_moe", p=moe_p), run("no_mformer", p=0.06), run("no_stage2", p=0.101)]
        out.append(run("no_stage1", ranks=ranks_for(0.10, seed)))
    return out


def ablation_table(records, metrics=("ndcg@10",)):
    sections, _ = reports.ablation_sections(records, list(metrics), rt.load_paper_results())
    return sections[0].frame.set_index(["variant", "metric"]), sections[0].views[0]


def per_user_ndcg10(ranks) -> np.ndarray:  # written out here, not bench.metrics', so the test checks the report's arithmetic
    r = np.asarray(ranks, dtype=float)
    return np.where(r <= 10, 1.0 / np.log2(r + 1.0), 0.0)


def test_the_full_row_takes_every_seed_of_the_full_run_whichever_component_it_ran_for():
    """The main suite's Laser runs at seeds 1 and 2 list only the component ablated at 3 seeds;
    a component ablated at seed 0 alone still shows the full model over all three."""
    cpu = {"profile": "cpu"}
    full = [make_record("laser", s, config=cpu, tags={}, also_tags=[{"component": "m_former", "variant": "full"}] + ([{"component": "prefix", "variant": "full"}] if s == 0 else [])) for s in (0, 1, 2)]
    other_profile = make_record("laser", 0, config={"profile": "paper"}, tags={"component": "pretrain", "variant": "full"})
    suffix_only = make_record("laser/suffix_only", 0, p=0.05, config={**cpu, "prefix": "none"}, tags={"component": "prefix", "variant": "suffix_only"})
    chosen, borrowed = rt.ablation_records(full + [suffix_only, other_profile], "prefix")
    assert borrowed == "m_former"
    assert sorted(r["seed"] for r in chosen if rt.tags(r)["variant"] == "full") == [0, 1, 2]  # not the paper-profile run
    summary = rt.ablation_frame(chosen, ["mrr"]).set_index("variant")
    assert summary.loc["full", "n_ok"] == 3 and summary.loc["suffix_only", "seeds"] == 1  # the test pairs the shared seed only
    m_former, _ = rt.ablation_records(full + [suffix_only], "m_former")
    assert sorted(r["seed"] for r in m_former) == [0, 1, 2]


def test_a_published_table_is_printed_once_and_the_others_point_to_it():
    """history (a step toward the released code, not a table of the paper's) sorts first and
    borrows nothing: Table 4 is printed under m_former, its first component."""
    cpu = {"profile": "cpu"}
    records = [make_record("laser", 0, config=cpu, tags={}, also_tags=[{"component": c, "variant": "full"} for c in ("history", "m_former", "prefix")])]
    records += [make_record("laser/history10", 0, p=0.1, config=cpu, tags={"component": "history", "variant": "history10"})]
    records += [make_record("laser/no_moe", 0, p=0.1, config=cpu, tags={"component": "m_former", "variant": "no_moe"})]
    records += [make_record("laser/suffix_only", 0, p=0.05, config=cpu, tags={"component": "prefix", "variant": "suffix_only"})]
    sections, _ = reports.ablation_sections(records, ["mrr"], rt.load_paper_results())
    history, m_former, prefix = sections
    assert history.title == "Ablation: history" and len(history.views) == 1 and history.published is None
    assert not any("Table 4" in note for note in history.views[0].notes)
    assert [v.caption.split(":")[0] for v in m_former.views] == ["Ablation of m_former (paper Table 4 layout), 1 seed", "Published (Amazon 2018)"]
    assert len(prefix.views) == 1 and prefix.published is None  # and no second copy of the CSV
    assert "The paper's Table 4 is printed once, under Ablation: m_former (Table 4)." in prefix.views[0].notes


def test_components_not_run_yet_are_listed(tmp_path):
    records = [make_record("laser/no_moe", tags={"component": "m_former", "variant": "no_moe"}, config={})]
    for r in records:
        write(tmp_path / "results", r)
    reports.build_reports(tmp_path / "results", tmp_path / "out", components=["experts", "m_former", "template"])
    readme = (tmp_path / "out" / "ablations" / "README.md").read_text()
    assert "Not run yet: `experts`, `template`" in readme


def test_ablation_p_value_is_scipy_wilcoxon_on_per_user_differences_paired_by_user_and_seed():
    from scipy.stats import wilcoxon

    records = paper_ablation_records()
    frame, view = ablation_table(records, ("ndcg@10", "mrr"))
    per_user = {"ndcg@10": per_user_ndcg10, "mrr": lambda r: 1.0 / np.asarray(r, dtype=float)}
    runs = {(rt.tags(r)["variant"], r["seed"]): r["ranks"]["test"] for r in records}
    for variant in ("no_moe", "no_mformer", "no_stage2"):
        for metric, f in per_user.items():
            diffs = [f(runs[(variant, s)]) - f(runs[("full", s)]) for s in (0, 1, 2)]
            expected = wilcoxon(np.mean(diffs, axis=0)).pvalue
            pooled = wilcoxon(np.concatenate(diffs)).pvalue  # pairing by user only, seeds pooled: must not be what the report does
            assert expected != pytest.approx(pooled)
            row = frame.loc[(variant, metric)]
            assert row["p_value"] == pytest.approx(expected, rel=1e-12) and (row["users"], row["seeds"]) == (N_USERS, 3)
    assert 0.01 < frame.loc[("no_stage2", "ndcg@10"), "p_value"] < 0.99  # a p-value scipy could get wrong in either tail
    assert frame.loc[("no_stage1", "ndcg@10"), "p_value"] == 1.0 and pd.isna(frame.loc[("full", "ndcg@10"), "p_value"])
    p_col = view.columns.index("p")
    cells = {row[0].text: row[p_col].text for row in view.rows}
    assert cells["laser/no_stage2"] == f"{frame.loc[('no_stage2', 'ndcg@10'), 'p_value']:.3g}" and cells["laser"] == ""


def test_ablation_signs_ours_and_the_papers_against_each_full_model():
    records = paper_ablation_records()
    frame, view = ablation_table(records)
    ndcg = {v: np.mean([r["metrics"]["test"]["ndcg@10"] for r in records if rt.tags(r)["variant"] == v]) for v in ("full", "no_moe", "no_mformer", "no_stage2")}
    stage2 = "above" if ndcg["no_stage2"] > ndcg["full"] else "below"
    assert ndcg["no_moe"] > ndcg["full"] > ndcg["no_mformer"]
    assert frame.xs("ndcg@10", level="metric")["sign"].to_dict() == {"full": None, "no_moe": "above", "no_mformer": "below", "no_stage2": stage2, "no_stage1": "equal"}
    paper = rt.load_paper_results().query("table == 4 and dataset == 'scientific'").set_index("key")["ndcg@10"]
    assert paper["no_moe"] < paper["full"] and paper["no_mformer"] < paper["full"] and paper["no_stage1"] < paper["full"]
    row = frame.loc[("no_moe", "ndcg@10")]
    assert (row["published"], row["published_full"], row["published_sign"]) == (paper["no_moe"], paper["full"], "below")
    assert row["published_drop_percent"] == pytest.approx((paper["full"] - paper["no_moe"]) / paper["full"] * 100)
    assert frame.xs("ndcg@10", level="metric")["differs"].to_dict() == {"full": False, "no_moe": True, "no_mformer": False, "no_stage2": stage2 == "above", "no_stage1": True}
    ours, theirs = view.columns.index("vs full"), view.columns.index("(paper) vs full")
    cells = {row[0].text: (row[ours].text, row[theirs].text) for row in view.rows}
    drop = (ndcg["full"] - ndcg["no_moe"]) / ndcg["full"] * 100
    assert cells["laser/no_moe"] == (f"{-drop:.1f}% above", f"{row['published_drop_percent']:.1f}% below")
    assert cells["laser/no_stage1"][0] == "equal" and cells["laser"] == ("", "")


def test_the_readme_says_where_our_ordering_differs_from_the_papers_and_only_there(tmp_path):
    def sentences(records, folder):
        reports.ablation_report(records, tmp_path / folder, ["ndcg@10"])
        return [line for line in (tmp_path / folder / "README.md").read_text().splitlines() if "differs from the paper" in line]

    records = paper_ablation_records()
    frame, _ = ablation_table(records)
    differing = [v for v in frame.index.get_level_values("variant") if frame.loc[(v, "ndcg@10"), "differs"]]
    assert "no_moe" in differing and "no_mformer" not in differing
    lines = sentences(records, "differ")
    assert len(lines) == len(differing)
    p = frame.loc[("no_moe", "ndcg@10"), "p_value"]
    assert f"- Ours differs from the paper on amazon-scientific NDCG@10: laser/no_moe is above the full model here (p = {p:.3g}), below it in the paper." in lines
    assert "- Ours differs from the paper on amazon-scientific NDCG@10: laser/no_stage1 is level with the full model here (p = 1), below it in the paper." in lines
    assert not any("laser/no_mformer " in line for line in lines)

    agreeing = [r for r in paper_ablation_records(moe_p=0.06) if rt.tags(r)["variant"] in ("full", "no_moe", "no_mformer")]
    assert sentences(agreeing, "agree") == []
    # no_moe above the full model on a dataset the paper does not have: held against the paper's orderings on its own datasets
    unpublished = [r | {"dataset": "ml-100k"} for r in records if rt.tags(r)["variant"] in ("full", "no_moe")]
    assert [line.split(":")[0] for line in sentences(unpublished, "unpublished")] == ["- Ours differs from the paper on ml-100k NDCG@10"]

    # every published variant is below the paper's full Laser: a paper with two variants above it
    # checks that the sentence follows the paper's sign, not "ours is not below"
    paper = rt.load_paper_results()
    above = (paper["table"] == 4) & (paper["dataset"] == "scientific") & paper["key"].isin(["no_moe", "no_mformer"])
    paper.loc[above, "ndcg@10"] = 0.2
    sections, _ = reports.ablation_sections([r for r in records if rt.tags(r)["variant"] in ("full", "no_moe", "no_mformer")], ["ndcg@10"], paper)
    text = reports.markdown_table(sections[0].views[0])
    p = sections[0].frame.set_index("variant").loc["no_mformer", "p_value"]
    assert [line for line in text.splitlines() if "differs from the paper" in line] == [
        f"- Ours differs from the paper on amazon-scientific NDCG@10: laser/no_mformer is below the full model here (p = {p:.3g}), above it in the paper."
    ]


def ml100k_ablation_records() -> list[dict]:
    """Three seeds on ml-100k, which the paper does not have: one full run serving both components,
    m_former's no_moe above it and stages' no_phase1 (the paper's no_stage1) below it; in the
    paper's Table 4 both are below its full Laser on scientific and on pet."""
    out = []
    for seed in (0, 1, 2):
        cpu = {"profile": "cpu"}
        out.append(make_record("laser", seed, p=0.10, config=cpu, tags={"component": "stages", "variant": "full"}, also_tags=[{"component": "m_former", "variant": "full"}]))
        out.append(make_record("laser/no_moe", seed, p=0.12, config=cpu, tags={"component": "m_former", "variant": "no_moe"}))
        out.append(make_record("laser/no_phase1", seed, p=0.06, config=cpu, tags={"component": "stages", "variant": "no_phase1"}))
    return out


def test_on_a_dataset_the_paper_lacks_each_variant_shows_the_papers_gap_on_each_of_its_datasets(tmp_path):
    records = ml100k_ablation_records()
    sections, _ = reports.ablation_sections(records, ["ndcg@10"], rt.load_paper_results())
    by_stem = {s.stem: s for s in sections}
    assert set(by_stem) == {"ablation_m_former", "ablation_stages"}
    frames = {stem: s.frame.set_index("variant") for stem, s in by_stem.items()}
    assert frames["ablation_m_former"].loc["no_moe", "sign"] == "above" and frames["ablation_stages"].loc["no_phase1", "sign"] == "below"
    # the paper's gaps, from the csv: (full - variant) / full, each dataset against its own full Laser
    paper = rt.load_paper_results().query("table == 4").set_index(["key", "dataset"])["ndcg@10"]
    gap = {(k, d): (paper[("full", d)] - paper[(k, d)]) / paper[("full", d)] * 100 for k in ("no_moe", "no_stage1") for d in ("scientific", "pet")}
    assert all(g > 0 for g in gap.values())
    for stem, name, key in (("ablation_m_former", "laser/no_moe", "no_moe"), ("ablation_stages", "laser/no_phase1", "no_stage1")):
        view = by_stem[stem].views[0]
        assert view.columns == ["Variant", "NDCG@10", "vs full", "p", "paper vs full (scientific)", "paper vs full (pet)"]
        cells = {row[0].text: [c.text for c in row[-2:]] for row in view.rows}
        assert cells[name] == [f"{gap[(key, 'scientific')]:.1f}% below", f"{gap[(key, 'pet')]:.1f}% below"]
        assert cells["laser"] == ["", ""]
        row = frames[stem].loc[name.split("/")[1]]
        assert row["paper_key"] == key and row["published_drop_percent_pet"] == pytest.approx(gap[(key, "pet")])
        assert pd.isna(row["published"])  # no number of the paper's stands beside ours on ml-100k
    assert cells["laser/no_phase1"][0] == "43.9% below"  # Table 4, NDCG@10: w/o stage 1 0.0544 vs Laser 0.0970
    assert "The paper's names for our variants: no_phase1 = no_stage1." in by_stem["ablation_stages"].views[0].notes

    reports.ablation_report(records, tmp_path / "both", ["ndcg@10"])
    lines = [line for line in (tmp_path / "both" / "README.md").read_text().splitlines() if "differs from the paper" in line]
    p = frames["ablation_m_former"].loc["no_moe", "p_value"]
    assert lines == [f"- Ours differs from the paper on ml-100k NDCG@10: laser/no_moe is above the full model here (p = {p:.3g}), below it in the paper on scientific and pet."]

    # a paper whose no_moe is above its full Laser on pet: the sentence names only the dataset whose ordering is not ours
    paper = rt.load_paper_results()
    paper.loc[(paper["table"] == 4) & (paper["dataset"] == "pet") & (paper["key"] == "no_moe"), "ndcg@10"] = 0.0943  # 5% above 0.0898
    sections, _ = reports.ablation_sections(records, ["ndcg@10"], paper)
    view = next(s for s in sections if s.stem == "ablation_m_former").views[0]
    assert {row[0].text: row[-1].text for row in view.rows}["laser/no_moe"] == "5.0% above"
    assert [n for n in view.notes if "differs from the paper" in n] == [
        f"Ours differs from the paper on ml-100k NDCG@10: laser/no_moe is above the full model here (p = {p:.3g}), below it in the paper on scientific."
    ]


def test_an_ordering_the_paper_shows_only_in_a_figure_is_checked_by_its_sign():
    """id_encoder/sasrec: the paper's Fig. 4 puts SASRec below BERT4Rec as the ID encoder, with no
    number we have; the note compares signs only, and says which metrics disagree."""
    cpu = {"profile": "cpu"}

    def view(p_sasrec):
        records = [make_record("laser", s, p=0.10, config=cpu, tags={"component": "id_encoder", "variant": "full"}) for s in (0, 1)]
        records += [make_record("laser/sasrec", s, p=p_sasrec, config=cpu, tags={"component": "id_encoder", "variant": "sasrec"}) for s in (0, 1)]
        sections, _ = reports.ablation_sections(records, ["recall@10", "ndcg@10"], rt.load_paper_results())
        (section,) = sections
        assert section.title == "Ablation: id_encoder"  # no paper table to name
        return section

    above = view(0.12)
    frame = above.frame.set_index(["variant", "metric"])
    assert set(frame.loc["sasrec", "sign"]) == {"above"}
    (note,) = [n for n in above.views[0].notes if "Fig. 4" in n]
    p = {m: frame.loc[("sasrec", m), "p_value"] for m in ("recall@10", "ndcg@10")}
    assert note == (
        "Ours differs from the paper, which has laser/sasrec below the full model (Zhang et al. 2024, arXiv 2409.01605, "
        "Fig. 4: BERT4Rec as the ID encoder beats SASRec by 17% on Pet; no published numbers to set beside ours): "
        f"here it is ml-100k Recall@10: above it (p = {p['recall@10']:.3g}); ml-100k NDCG@10: above it (p = {p['ndcg@10']:.3g})."
    )
    below = view(0.06)
    assert [n for n in below.views[0].notes if "Fig. 4" in n][0].endswith("; ours agrees on every metric.")


def test_experts_grid_reads_k_and_l():
    records = [
        make_record(f"laser/K{k}_L{q}", s, p=0.01 * k + 0.001 * q, config={"profile": "cpu", "experts": k, "queries": q}, tags={"component": "experts", "variant": f"K{k}_L{q}"})
        for k, q in ((2, 4), (6, 4), (4, 6))
        for s in (0, 1)
    ]
    # cpu profile: K=4, L=4, read from the resolved config the runner stores (reports build no method)
    records.append(make_record("laser", config={"profile": "cpu"}, resolved_config={"profile": "cpu", "experts": 4, "queries": 4}, tags={"component": "experts", "variant": "full"}))
    records.append(make_record("laser/K8_L2", p=0.02, tags={"component": "experts", "variant": "K8_L2"}, config={}) | {"method": "other"})  # from the name
    grid = rt.expert_grid(records, "recall@10").set_index(["K", "L"])
    assert sorted(grid.index) == [(2, 4), (4, 4), (4, 6), (6, 4), (8, 2)]
    expected = np.mean([r["metrics"]["valid"]["recall@10"] for r in records if r["name"] == "laser/K6_L4"])
    assert grid.loc[(6, 4), "mean"] == pytest.approx(expected) and grid.loc[(6, 4), "n_ok"] == 2
    view = reports.grid_view(grid.reset_index(), "recall@10")
    bold = [c.text for row in view.rows for c in row if c.bold]
    assert bold == [reports.fmt(grid.loc[(4, 4), "mean"])] and grid["mean"].idxmax() == (4, 4)


# ---------------------------------------------------------------- published numbers


# The paper's numbers typed again from its tables, in their own layout (Recall@10 / NDCG@10 /
# MRR per dataset; None: not reported), never read from bench/reference/paper_results.csv: a
# number mistyped into the CSV disagrees with this copy.
PUBLISHED = {
    # Table 2: main results
    (2, "Laser"): {"scientific": "0.1396 / 0.0970 / 0.0893", "pet": "0.1134 / 0.0898 / 0.0856", "arts": "0.1489 / 0.1138 / 0.1095"},
    (2, "SASRec"): {"scientific": "0.1305 / - / -"},
    (2, "BERT4Rec"): {"scientific": "0.1061 / 0.0790 / 0.0759"},
    (2, "FDSA"): {"scientific": "0.0967 / 0.0716 / 0.0692"},
    (2, "RecFormer"): {"scientific": "0.1114 / 0.0722 / 0.0650", "pet": "- / 0.0793 / 0.0774", "arts": "- / 0.1024 / 0.0980"},
    (2, "LlamaRec"): {"scientific": "0.1275 / 0.0857 / 0.0793", "arts": "0.1368 / - / -"},
    (2, "LLM4REC"): {"scientific": "0.1257 / 0.0764 / 0.0683"},
    # Table 4: ablations, Scientific and Pet
    (4, "Laser"): {"scientific": "0.1396 / 0.0970 / 0.0893", "pet": "0.1134 / 0.0898 / 0.0856"},
    (4, "w/o MoE"): {"scientific": "0.1261 / 0.0889 / 0.0795", "pet": "0.1056 / 0.0818 / 0.0763"},
    (4, "w/o M-Former"): {"scientific": "0.1245 / 0.0844 / 0.0739", "pet": "0.1049 / 0.0775 / 0.0721"},
    (4, "w/o prefix"): {"scientific": "0.1128 / 0.0705 / 0.0619", "pet": "0.0878 / 0.0695 / 0.0607"},
    (4, "w/o stage 1"): {"scientific": "0.0784 / 0.0544 / 0.0509", "pet": "0.0514 / 0.0443 / 0.0398"},
    (4, "w/o stage 2"): {"scientific": "0.1316 / 0.0894 / 0.0781", "pet": "0.1083 / 0.0837 / 0.0793"},
    # Table 5: embedding strategy, Scientific
    (5, "Suffix token"): {"scientific": "0.1396 / 0.0970 / 0.0893"},
    (5, "Average pooling"): {"scientific": "0.0551 / 0.0416 / 0.0401"},
    (5, "Hard [EOS] token"): {"scientific": "0.0948 / 0.0688 / 0.0646"},
    # Table 7: experts K x query tokens L, validation, Scientific
    (7, "K=8, L=32"): {"scientific": "0.1661 / 0.1199 / 0.1112"},
    (7, "K=4, L=32"): {"scientific": "0.1545 / - / -"},
    (7, "K=12, L=32"): {"scientific": "0.1560 / - / -"},
    (7, "K=8, L=16"): {"scientific": "0.1487 / - / -"},
    (7, "K=8, L=48"): {"scientific": "0.0975 / - / -"},
}
# Table 3 and the text beside it: trainable parameters
PUBLISHED_TRAINABLE = {"LLM4REC": 787.3e6, "LlamaRec": 4.194e6, "Laser (LLM side)": (32 + 1) * 4096, "Laser (all trainable)": 183.3e6}


def test_paper_results_csv_holds_the_published_numbers():
    paper = rt.load_paper_results()
    metrics = ["recall@10", "ndcg@10", "mrr"]
    in_csv = {
        (row["table"], row["model"], row["dataset"]): [None if pd.isna(row[m]) else float(row[m]) for m in metrics]
        for row in paper[paper["table"] != 3].to_dict("records")
    }
    typed = {
        (table, model, dataset): [None if v == "-" else float(v) for v in text.split(" / ")]
        for (table, model), by_dataset in PUBLISHED.items()
        for dataset, text in by_dataset.items()
    }
    assert in_csv == typed  # every number, every gap, and no row either side lacks
    trainable = paper[paper["table"] == 3].set_index("model")["trainable"].to_dict()
    assert trainable == PUBLISHED_TRAINABLE
    assert set(paper.loc[paper["table"] == 7, "split"]) == {"valid"} and set(paper.loc[paper["table"].isin([2, 4, 5]), "split"]) == {"test"}
    assert (paper["source"] == [f"Zhang et al. 2024, arXiv 2409.01605, {'text beside ' if m == 'Laser (all trainable)' else ''}Table {t}" for t, m in zip(paper["table"], paper["model"])]).all()


def test_published_values_sit_beside_ours_when_the_dataset_matches():
    records = [make_record(n, dataset="amazon-scientific") for n in ("sasrec", "laser")]
    summary, improv = main_tables(records)
    published = rt.published_frame(rt.load_paper_results(), 2, ["recall@10", "ndcg@10", "mrr"])
    summary = rt.attach_published(summary, published, key="method")
    view = reports.main_view(summary, improv, ["recall@10", "ndcg@10", "mrr"])
    col = view.columns.index("Recall@10 (paper)")
    laser = next(r for r in view.rows if r[1].text == "laser")
    sasrec = next(r for r in view.rows if r[1].text == "sasrec")
    assert laser[col].text == "0.1396" and sasrec[col].text == "0.1305"
    assert sasrec[view.columns.index("NDCG@10 (paper)")].text == "–"
    assert rt.paper_dataset("ml-100k", ["scientific", "pet", "arts"]) is None


# ---------------------------------------------------------------- rendering and files


def test_latex_escapes_special_characters():
    assert reports.latex_escape("laser/no_moe") == r"laser/no\_moe"
    assert reports.latex_escape("50% & $x#{y}~^") == r"50\% \& \$x\#\{y\}\textasciitilde{}\textasciicircum{}"
    assert reports.latex_escape("0.1 ± 0.2") == r"0.1 $\pm$ 0.2"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One full report: a suite of four methods x two seeds, Laser with expert usage, and ablations."""
    root = tmp_path_factory.mktemp("report")
    results = root / "results"
    usage = {"short histories": [0.5, 0.3, 0.2], "long histories": [0.1, 0.2, 0.7]}
    for name in METHODS:
        for seed in (0, 1):
            extra = {"analysis": {"expert_usage": usage}} if name == "laser" else {}
            write(results, make_record(name, seed, config={"max_seq_length": 20}, **extra))
    for record in ablation_records():
        write(results, record)
    suite = suite_file(root)
    paths = reports.build_reports(results, root / "out", suite=str(suite))
    paths += reports.ablation_report([r for r in ablation_records()], root / "out" / "ablations", list(rt.DEFAULT_METRICS))
    return root / "out", paths


def test_report_files_exist_and_figures_are_real_pngs(built):
    out, paths = built
    names = {p.relative_to(out).as_posix() for p in paths}
    for stem in ("main_table", "parameters"):
        assert {f"toy/{stem}.csv", f"toy/{stem}.tex"} <= names
    for figure in ("params_vs_ndcg10", "training_curves", "expert_usage"):
        for ext in ("png", "pdf"):
            assert f"toy/{figure}.{ext}" in names
        png = (out / "toy" / f"{figure}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert {"ablations/ablation_m_former.csv", "ablations/ablation_suffix.tex", "ablations/ablation_m_former.png", "ablations/README.md"} <= names
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_readme_embeds_figures_tables_protocol_and_split_hash(built):
    out, _ = built
    readme = (out / "toy" / "README.md").read_text()
    assert "![Trainable parameters (log scale) vs test NDCG@10, mean ± std over 2 seeds](params_vs_ndcg10.png)" in readme
    assert "leave-one-out by time" in readme and "full ranking" in readme and "ties counted against the target" in readme
    assert "model selection on validation only" in readme and SPLIT in readme
    assert "| Family | Method | Collab. IDs | ml-100k Recall@10 |" in readme
    assert "Published (Amazon 2018)" in readme and "0.1396" in readme
    ablation = (out / "ablations" / "README.md").read_text()
    assert "laser/no_moe" in ablation and "vs full" in ablation and "w/o MoE" in ablation


def test_latex_uses_booktabs_and_escapes_names(built):
    out, _ = built
    tex = (out / "ablations" / "ablation_m_former.tex").read_text()
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"laser/no\_moe" in tex and "laser/no_moe" not in tex and r"\% below" in tex


def test_regenerating_reports_writes_the_same_bytes(built, tmp_path):
    """`bench report` from unchanged records must leave a checkout's committed files as they are."""
    out, first = built
    root = out.parent
    again = reports.build_reports(root / "results", tmp_path, suite=str(root / "toy.yaml"))
    again += reports.ablation_report(ablation_records(), tmp_path / "ablations", list(rt.DEFAULT_METRICS))
    assert sorted(p.relative_to(tmp_path) for p in again) == sorted(p.relative_to(out) for p in first)
    for path in again:
        assert path.read_bytes() == (out / path.relative_to(tmp_path)).read_bytes(), path.name
    for path in [p for p in again if p.suffix in (".pdf", ".png")]:  # no date or version that a rerun elsewhere would change
        data = path.read_bytes()
        assert b"CreationDate" not in data and b"atplotlib" not in data, path.name


@pytest.mark.parametrize("folder", ["toy", "ablations"])
def test_latex_tables_compile(built, folder, tmp_path):
    out, _ = built
    assert compile_tex((out / folder / "tables.tex").read_text(), tmp_path).stat().st_size > 1000


def test_without_suite_every_suite_with_records_and_the_ablations_are_reported(tmp_path):
    from bench.suites import expand, load_suite

    sasrec = next(s for s in expand(load_suite("main")) if s.name == "sasrec")
    write(tmp_path / "results", make_record("sasrec", config=sasrec.config))
    write(tmp_path / "results", make_record("laser/no_moe", tags={"component": "m_former", "variant": "no_moe"}, config={}))
    paths = reports.build_reports(tmp_path / "results", tmp_path / "out")
    folders = {p.parent.name for p in paths}
    assert folders == {"main", "id_all", "ablations", "claims"}  # id_all includes main's sasrec


def test_a_rebuild_removes_what_the_last_build_wrote_and_this_one_does_not(tmp_path):
    """A table a build stops writing (its records are gone) must not linger and read as current;
    files the report never wrote stay, and one suite's build leaves the other folders alone."""
    from bench.suites import expand, load_suite

    sasrec = next(s for s in expand(load_suite("main")) if s.name == "sasrec")
    results, out = tmp_path / "results", tmp_path / "out"
    write(results, make_record("sasrec", config=sasrec.config))
    ablated = write(results, make_record("laser/no_moe", tags={"component": "m_former", "variant": "no_moe"}, config={}))
    reports.build_reports(results, out)
    assert (out / "ablations" / "ablation_m_former.csv").exists()
    (out / "ablations" / "my_notes.md").write_text("mine\n")
    (out / "main" / "my_plot.png").write_bytes(b"mine")

    record_path(results, ablated["dataset"], ablated["name"], ablated["key"]).unlink()
    write(results, make_record("laser/no_prefix", tags={"component": "prefix", "variant": "no_prefix"}, config={}))
    pruned: list[Path] = []
    paths = reports.build_reports(results, out, pruned=pruned)
    assert (out / "ablations" / "ablation_prefix.csv") in paths
    assert not list((out / "ablations").glob("ablation_m_former*")), "the stale table lingers"
    assert out / "ablations" / "ablation_m_former.csv" in pruned
    assert (out / "ablations" / "my_notes.md").read_text() == "mine\n" and (out / "main" / "my_plot.png").exists()

    # every ablation record gone: a whole build empties the ablations folder of its own files
    for path in results.rglob("*.json"):
        if path.name.startswith("laser"):
            path.unlink()
    reports.build_reports(results, out)
    assert sorted(p.name for p in (out / "ablations").iterdir()) == ["my_notes.md"]

    # one suite's build prunes only that suite's folder
    claims = sorted((out / "claims").iterdir())
    reports.build_reports(results, out, suite="main")
    assert sorted((out / "claims").iterdir()) == claims


def test_the_report_list_never_names_a_file_outside_its_folder(tmp_path):
    """The list is read back from disk: a name with a path in it (edited by hand, or planted)
    must not turn the pruning into a delete anywhere else."""
    from bench.report.manifest import MANIFEST, record_and_prune

    folder, outside = tmp_path / "out" / "main", tmp_path / "precious.csv"
    folder.mkdir(parents=True)
    outside.write_text("keep\n")
    (folder / "old.csv").write_text("old\n")
    (folder / MANIFEST).write_text(json.dumps(["old.csv", "../../precious.csv", str(outside)]))
    (folder / "new.csv").write_text("new\n")
    lists, removed = record_and_prune(tmp_path / "out", [folder / "new.csv"], whole=True)
    assert removed == [folder / "old.csv"] and outside.read_text() == "keep\n"
    assert json.loads((folder / MANIFEST).read_text()) == ["new.csv"] and lists == [folder / MANIFEST]


def test_no_records_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no run records"):
        reports.build_reports(tmp_path, tmp_path / "out")
    write(tmp_path, make_record("sasrec"))
    with pytest.raises(UserError, match="belongs to suite 'main'"):
        reports.build_reports(tmp_path, tmp_path / "out", suite="main")


def current(record: dict) -> dict:
    """The record with the key today's code gives its run (what `bench run` would have written)."""
    from bench.runner import current_key

    return {**record, "key": current_key(record)}


def test_cli_report_ends_with_a_short_summary_of_what_it_wrote(tmp_path, capsys):
    from bench.cli import main

    for name in ("sasrec", "bert4rec"):
        write(tmp_path / "results", current(make_record(name)))
    suite = suite_file(tmp_path, seeds=(0,))
    code = main(["--results", str(tmp_path / "results"), "report", "--suite", str(suite), "--out", str(tmp_path / "out"), "--ks", "20"])
    printed = capsys.readouterr().out.splitlines()
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert code == 0 and printed[0] == f"Wrote {len(written)} files under {tmp_path / 'out'}/:"
    assert len(printed) == 2 and printed[1].startswith(f"  {tmp_path / 'out' / 'toy' / 'README.md'}: ")  # one line per folder, not a path per file
    assert "NDCG@20" in (tmp_path / "out" / "toy" / "README.md").read_text()

    # a file the last build wrote and this one does not is removed, and the summary names it
    listed = tmp_path / "out" / "toy" / ".bench-report"
    listed.write_text(json.dumps([*json.loads(listed.read_text()), "ablation_gone.csv"]))
    (tmp_path / "out" / "toy" / "ablation_gone.csv").write_text("old\n")
    main(["--results", str(tmp_path / "results"), "report", "--suite", str(suite), "--out", str(tmp_path / "out"), "--ks", "20"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2:] == ["Removed 1 file an earlier `bench report` wrote and this one does not:", f"  {tmp_path / 'out' / 'toy' / 'ablation_gone.csv'}"]
    assert not (tmp_path / "out" / "toy" / "ablation_gone.csv").exists()


def test_importing_the_report_modules_loads_no_heavy_library():
    code = "import sys, bench.report, bench.report.figures; print(sorted({'pandas', 'matplotlib', 'scipy', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_cli_report_leaves_stale_records_out_and_lists_them(tmp_path, monkeypatch):
    from bench.cli import main
    from laser import config as laser_config

    suite = tmp_path / "toy.yaml"
    suite.write_text("datasets: [ml-100k]\nseeds: [0, 1]\nmethods:\n  sasrec: {max_seq_length: 20}\n  laser: {profile: cpu}\n")
    results = tmp_path / "results"
    for seed in (0, 1):
        write(results, current(make_record("sasrec", seed)))
    # laser seed 0 ran under an older cpu profile; seed 1 ran, then was rerun under today's
    with monkeypatch.context() as m:
        m.setitem(laser_config.PROFILES["cpu"], "lr", 5e-4)
        old = [current(make_record("laser", seed, config={"profile": "cpu"})) for seed in (0, 1)]
    for record in old:
        write(results, record)
    rerun = write(results, current(make_record("laser", 1, config={"profile": "cpu"}, p=0.2)))
    assert rerun["key"] != old[1]["key"]

    assert main(["--results", str(results), "report", "--suite", str(suite), "--out", str(tmp_path / "out")]) == 0
    readme = (tmp_path / "out" / "toy" / "README.md").read_text()
    assert "2 records left out as stale: their config or code changed since they ran; rerun them (laser on ml-100k, seed 0); 1 of them already rerun" in readme
    table = pd.read_csv(tmp_path / "out" / "toy" / "main_table.csv")
    laser = table[(table["name"] == "laser") & (table["metric"] == "ndcg@10")]
    assert laser["n_runs"].tolist() == [1]  # the rerun only: the stale seed 0 and the old seed 1 are out
    assert laser["mean"].astype(float).tolist() == [pytest.approx(rerun["metrics"]["test"]["ndcg@10"])]
    assert "Runs: 3 (0 failed)" in readme
    # every stale run rerun: nothing left to ask for
    lines = reports.stale_lines([old[1]], [rerun])
    assert lines[0] == "1 record left out as stale: their config or code changed since they ran; 1 of them already rerun with the current config and code."


def test_a_suite_whose_records_are_all_stale_gets_a_readme_without_tables(tmp_path):
    suite = suite_file(tmp_path, seeds=(0,))
    write(tmp_path / "results", make_record("sasrec"))
    paths = reports.build_reports(tmp_path / "results", tmp_path / "out", suite=str(suite), is_current=lambda r: False)
    assert [p.name for p in paths] == ["README.md", ".bench-report"]  # the README and the list of what was written
    text = paths[0].read_text()
    assert "No current runs" in text and "1 record left out as stale" in text and "sasrec on ml-100k, seed 0" in text


def test_hyperparameter_tables_show_what_differs_and_note_what_is_shared():
    base = {"epochs": 100, "learning_rate": 0.001, "train_rows_per_user": None, "model": {"hidden_size": 64, "loss_type": "CE"}}
    records = [
        make_record("sasrec", resolved_config={**base, "model": {**base["model"], "n_heads": 2}}, method_version=1),
        make_record("bert4rec", resolved_config={**base, "learning_rate": 0.002, "model": {**base["model"], "mask_ratio": 0.2}}, method_version=1),
        make_record("laser", resolved_config={"profile": "cpu", "lr": 0.001, "id_encoder_config": {}}, method_version=1),
        {**pop_record(), "resolved_config": {}, "method_version": 1},
    ]
    (section,) = reports.hyperparameter_sections(records)
    ids, llm = section.views
    assert ids.columns == ["Setting", "sasrec", "bert4rec"]
    assert [[c.text for c in row] for row in ids.rows] == [["learning_rate", "0.001", "0.002"], ["model.n_heads", "2", "–"], ["model.mask_ratio", "–", "0.2"]]
    assert "Same for every column: epochs = 100, train_rows_per_user = null, model.hidden_size = 64, model.loss_type = CE." in ids.notes
    assert llm.caption == "Resolved configs: LLM-based (tuned LLM) and Laser (a run's config is the same at every seed)" and llm.columns == ["Setting", "laser"]
    assert [[c.text for c in row] for row in llm.rows] == [["profile", "cpu"], ["lr", "0.001"], ["id_encoder_config", "{}"]]
    assert "No settings: pop." in llm.notes
    frame = section.frame
    assert set(frame.loc[frame["setting"] == rt.VERSION_SETTING, "name"]) == {"sasrec", "bert4rec", "laser", "pop"}
    assert reports.hyperparameter_sections([make_record("sasrec")]) == []  # records from before resolved configs
    assert reports.hyperparameter_sections([records[-1]]) == []  # no method with settings: no table
