"""The claims page (`bench report`, reports/claims/) and its probe and control findings:
verdicts follow the records behind them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.report.ablation_frames import ablation_records, load_paper_results
from bench.report.claim_frames import HOLDS, NOT_SIGNIFICANT, REVERSED, UNTESTED, claims_frame
from bench.report.claims import CLAIMS, Comparison, Side
from bench.results import iter_records, record_path, train_fraction, write_record

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "results" / "runs" / "ml-100k"


def committed(*stems: str) -> list[dict]:
    """Committed records on the full split by file-name stem prefix (e.g. "laser-", "laser__no_moe-");
    the few-shot suites' runs share the names."""
    records = [json.loads(p.read_text()) for stem in stems for p in sorted(RUNS.glob(f"{stem}*.json"))]
    return [r for r in records if train_fraction(r) == 1.0]


def write_all(results: Path, records) -> None:
    for r in records:
        write_record(record_path(results, r["dataset"], r["name"], r["key"]), r)


def claims_csv(results: Path, out: Path) -> pd.DataFrame:
    """The claims page as `bench report` writes it, from the records under `results`."""
    from bench.report.build import claims_report

    current = [r for _, r in iter_records(results)]
    claims_report(current, out, results)
    return pd.read_csv(out / "claims.csv").set_index("claim")


def scaled(record: dict, factor: float) -> dict:
    """The record with every test rank multiplied by `factor` (kept within 1..n_items)."""
    out = copy.deepcopy(record)
    ranks = np.asarray(out["ranks"]["test"], dtype=float)
    out["ranks"]["test"] = np.clip(np.round(ranks * factor), 1, out["n_items"]).astype(int).tolist()
    out["metrics"]["test"] = {}  # metric_value reads the ranks where the stored metric is absent
    return out


def test_a_verdict_changes_when_the_records_behind_it_change(tmp_path):
    """Laser against w/o MoE (Table 4): not significant on the committed runs; the same runs with
    the variant's ranks made three times worse hold the paper's ordering, three times better reverse it."""
    laser, no_moe = committed("laser-"), committed("laser__no_moe-")
    assert len(laser) == len(no_moe) == 3
    verdicts = {}
    for label, factor in (("as committed", 1.0), ("worse", 3.0), ("better", 1 / 3)):
        results = tmp_path / label / "results"
        write_all(results, laser + [scaled(r, factor) if factor != 1.0 else r for r in no_moe])
        row = claims_csv(results, tmp_path / label / "claims").loc["T4-moe"]
        verdicts[label] = row["verdict"]
        assert row["a"] == "laser" and row["b"] == "laser/no_moe" and row["paired_seeds"] == 3
    assert verdicts == {"as committed": NOT_SIGNIFICANT, "worse": HOLDS, "better": REVERSED}


def test_a_claim_with_no_records_reads_untested_here(tmp_path):
    frame = claims_frame(CLAIMS, lambda pool: [], load_paper_results())
    assert set(frame["verdict"]) == {UNTESTED}
    assert len(frame) == len(CLAIMS)  # one row each
    # only the full model's runs of an ablation: the variant is missing, and the note says how to run it
    laser = committed("laser-")
    results = tmp_path / "results"
    write_all(results, laser)
    table = claims_csv(results, tmp_path / "claims")
    assert table.loc["T4-moe", "verdict"] == UNTESTED and "variant no_moe" in table.loc["T4-moe", "note"]
    assert "bench ablate --component m_former" in table.loc["T4-moe", "note"]
    assert table.loc["T6-instruction", "verdict"] == UNTESTED and table.loc["F3-transfer", "verdict"] == UNTESTED
    assert table.loc["F3-5%", "verdict"] == UNTESTED and "bench run --suite fewshot5" in table.loc["F3-5%", "note"]
    assert table.loc["T3", "verdict"] == HOLDS  # a count from the Laser runs themselves
    readme = (tmp_path / "claims" / "README.md").read_text()
    assert "| T4-moe | Table 4: w/o MoE (one expert) is below Laser |" in readme and "untested here |" in readme


def few_shot(record: dict, fraction: float) -> dict:
    """The record as if its run had been its few-shot suite's, trained on `fraction` of the users (its own key)."""
    from bench.suites import expand, load_suite

    out = copy.deepcopy(record)
    out["split_settings"] = {**(out.get("split_settings") or {}), "train_fraction": fraction, "train_fraction_seed": 0}
    out["config"] = next(s.config for s in expand(load_suite(f"fewshot{round(fraction * 100)}")) if s.name == record["name"])
    out["key"] = f"fs{fraction:g}-{out['key']}"
    return out


def test_the_few_shot_claim_reads_the_few_shot_suite_only(tmp_path):
    """Fig. 3's 5% row sets Laser against the best baseline among the fewshot5 suite's runs; the
    main suite's runs (same names, seeds and configs) stay out of it, and it stays out of Table 2."""
    laser, bert4rec = committed("laser-"), committed("bert4rec-")
    results = tmp_path / "results"
    # at 5% BERT4Rec's ranks made ten times worse: Laser holds there, while the main table still reverses
    write_all(results, laser + bert4rec + [few_shot(r, 0.05) for r in laser] + [few_shot(scaled(r, 10.0), 0.05) for r in bert4rec])
    table = claims_csv(results, tmp_path / "claims")
    row = table.loc["F3-5%"]
    assert (row["a"], row["b"], row["paired_seeds"], row["verdict"]) == ("laser", "bert4rec", 3, HOLDS)
    assert table.loc["T2", "verdict"] == REVERSED and table.loc["T2", "b"] == "bert4rec"
    assert table.loc["F3-20%", "verdict"] == UNTESTED and "bench run --suite fewshot20" in table.loc["F3-20%", "note"]


def test_the_paper_side_of_a_claim_is_read_from_its_table():
    frame = claims_frame([c for c in CLAIMS if c.id in ("T4-moe", "T5-mean", "T7")], lambda pool: [], load_paper_results()).set_index("claim")
    # w/o MoE: (0.0970 - 0.0889) / 0.0970 on Scientific, (0.0898 - 0.0818) / 0.0898 on Pet
    assert frame.loc["T4-moe", ["paper_low", "paper_high"]].tolist() == pytest.approx([8.3505, 8.9087], abs=1e-3)
    assert frame.loc["T5-mean", "paper_low"] == pytest.approx((0.0688 - 0.0416) / 0.0688 * 100)
    # Table 7: (8, 32) against the best other cell, (12, 32), on validation Recall@10
    assert frame.loc["T7", "paper_low"] == pytest.approx((0.1661 - 0.1560) / 0.1661 * 100)
    assert "(validation)" in frame.loc["T7", "paper"]


def test_a_side_picks_runs_by_the_setting_they_ran_with_not_the_variant_name():
    """The cpu profile's own prompt has no instruction, so its "full" run is the no-instruction side of Table 6."""
    laser = committed("laser-")
    own = [{**copy.deepcopy(r), "tags": {"component": "template", "variant": "full"}} for r in laser]
    with_instruction = []
    for r in own:
        other = scaled(r, 0.5)
        other.update(name="laser/with_instruction", tags={"component": "template", "variant": "with_instruction"}, key=r["key"] + "w")
        other["resolved_config"] = {**r["resolved_config"], "template": "full"}
        with_instruction.append(other)
    records = own + with_instruction
    claim = next(c for c in CLAIMS if c.id == "T6-instruction")
    row = claims_frame([claim], lambda pool: ablation_records(records, pool)[0], load_paper_results()).iloc[0]
    assert (row["a"], row["b"], row["verdict"]) == ("laser/with_instruction", "laser", HOLDS)


def valid_scaled(record: dict, factor: float) -> dict:
    """The record with every validation rank multiplied by `factor` (kept within 1..n_items)."""
    out = copy.deepcopy(record)
    out["ranks"]["valid"] = np.clip(np.round(np.asarray(record["ranks"]["valid"]) * factor), 1, record["n_items"]).astype(int).tolist()
    out["metrics"]["valid"] = {}
    return out


def cell(record, k, q, variant, factor):
    """The Laser record as the experts grid's (k, q) cell, its validation ranks times `factor`."""
    out = valid_scaled(record, factor)
    out.update(name="laser" if variant == "full" else f"laser/{variant}", tags={"component": "experts", "variant": variant}, key=f"{record['key']}{variant}")
    out["resolved_config"] = {**record["resolved_config"], "experts": k, "queries": q}
    return out


def test_table_7_sets_the_released_k_and_l_against_the_best_other_cell_on_validation():
    """On the cpu profile (8, 32) is a variant of the experts grid, not its base (4, 4)."""
    laser = committed("laser-")
    grid = [cell(r, 4, 4, "full", 1.0) for r in laser] + [cell(r, 8, 32, "K8_L32", 0.5) for r in laser] + [cell(r, 2, 4, "K2_L4", 0.8) for r in laser]
    claim = next(c for c in CLAIMS if c.id == "T7")
    row = claims_frame([claim], lambda pool: ablation_records(grid, pool)[0], load_paper_results()).iloc[0]
    assert (row["a"], row["b"], row["metric"], row["stage"], row["verdict"]) == ("laser/K8_L32", "laser/K2_L4", "recall@10", "valid", HOLDS)


def test_the_scale_section_sets_each_step_against_its_own_regimes_bert4rec():
    """The profile's row is Laser / BERT4Rec of the main suite; a step of the profile (K 8 x L 32,
    validation ranks halved) is also set against the profile's runs; a few-shot regime is set
    against the few-shot BERT4Rec, not the main one; a step with no runs says how to run it."""
    from bench.report.build import suite_records
    from bench.report.claims import SCALE_STEPS
    from bench.report.scale import goal_line, scale_frame

    laser, bert4rec = committed("laser-"), committed("bert4rec-")
    records = laser + bert4rec + [few_shot(r, 0.05) for r in laser] + [few_shot(valid_scaled(r, 4.0), 0.05) for r in bert4rec]
    grid = [cell(r, 4, 4, "full", 1.0) for r in laser] + [cell(r, 8, 32, "K8_L32", 0.5) for r in laser]

    def pool(name):
        return ablation_records(grid, name)[0] if name == "experts" else suite_records(records, name) if name in ("main", "fewshot5", "fewshot20") else []

    frame = scale_frame(SCALE_STEPS, pool).set_index("step")
    step = {s.label.split(" (")[0]: s.label for s in SCALE_STEPS}
    profile, released, five = (frame.loc[label] for label in (SCALE_STEPS[0].label, step["K 8 x L 32"], SCALE_STEPS[-1].label))
    assert profile["ratio"] == pytest.approx(profile["laser_mean"] / profile["bert4rec_mean"]) and profile["ratio"] < 1
    assert np.isnan(profile["vs_profile_p"]) and profile["examples_seen"] == 9430  # 10 epochs of 943 rows
    # a run's wall time includes the probes it ran after evaluating (minutes or more of a Laser run)
    assert profile["minutes"] == pytest.approx(np.mean([r["timings"]["total_s"] + r["timings"]["probe_s"] for r in laser]) / 60)
    assert released["laser"] == "laser/K8_L32" and released["vs_profile_percent"] > 20 and released["vs_profile_p"] < 0.05
    assert released["bert4rec_mean"] == profile["bert4rec_mean"]
    assert five["bert4rec_mean"] < profile["bert4rec_mean"] / 2 and five["ratio"] > 1 and np.isnan(five["vs_profile_p"])
    assert "bench ablate --component history" in frame.loc[step["10 titles of history"], "note"]
    # a one-factor point of the grid that did not run names its settings; a variant names itself to the command
    assert "experts ablation with experts = 8, queries = 4" in frame.loc[step["K 8 experts"], "note"]
    assert "bench ablate --component mformer_init --variants minilm" in frame.loc[step["M-Former from all-MiniLM-L6-v2"], "note"]
    # the goal is read on test: the committed Laser stands short of 0.8x; with test ranks cut to a fifth it reaches it
    assert "0.53x over 3 seeds" in goal_line(pool) and "short of it" in goal_line(pool)
    better = [scaled(r, 0.2) for r in laser] + bert4rec
    assert "reached" in goal_line(lambda name: suite_records(better, name) if name == "main" else [])


def tower_cell(record, name: str, factor: float, **settings) -> dict:
    """The committed mformer_tower record as the towers suite's cell `name` with these resolved
    M-Former settings, its validation ranks times `factor`."""
    out = valid_scaled(record, factor)
    out.update(name=name, key=f"{record['key']}{name}")
    out["resolved_config"] = {**record["resolved_config"], **settings}
    return out


def test_the_scale_section_sets_each_m_former_step_without_the_llm_beside_laser(tmp_path):
    """The towers suite's cells stand beside Laser's steps: the profile's tower against BERT4Rec,
    a step's tower against the profile's (validation ranks halved: significantly above), a tower
    that ran before its Laser step still shows, and steps that change no M-Former setting (the
    text, the LLM, a regime) have none. The towers' probes and test rows stay out of the
    main suite's controls and probes."""
    from bench.report.build import suite_records
    from bench.report.claims import SCALE_STEPS
    from bench.report.claims_page import write_claims_page
    from bench.report.scale import scale_frame

    laser, bert4rec, tower = committed("laser-"), committed("bert4rec-"), committed("mformer_tower-")
    assert {r["resolved_config"]["mformer_init"] for r in tower} == {"random"} and len(tower) == 3
    towers = tower + [tower_cell(r, "tower_K8_L32", 0.5, experts=8, queries=32) for r in tower] + [tower_cell(tower[0], "tower_K4_L16", 1.0, queries=16)]
    main = laser + bert4rec + tower

    def pool(name):
        return suite_records(main, name) if name == "main" else towers if name == "towers" else []

    frame = scale_frame(SCALE_STEPS, pool).set_index("step")
    step = {s.label.split(" (")[0]: s.label for s in SCALE_STEPS}
    profile, released, l16 = (frame.loc[label] for label in (SCALE_STEPS[0].label, step["K 8 x L 32"], step["L 16 queries"]))
    tower_valid = np.mean([r["metrics"]["valid"]["ndcg@10"] for r in tower])
    assert profile["tower"] == "mformer_tower" and profile["tower_mean"] == pytest.approx(tower_valid)
    assert profile["tower_ratio"] == pytest.approx(tower_valid / profile["bert4rec_mean"]) and np.isnan(profile["tower_vs_profile_p"])
    assert released["tower"] == "tower_K8_L32" and released["tower_vs_profile_percent"] > 20 and released["tower_vs_profile_p"] < 0.05
    assert np.isnan(released["ratio"]) and "bench ablate --component experts" in released["note"]  # its Laser has not run
    # one seed of the tower against the profile's seed-0 tower: the same ranks, no change
    assert l16["tower_vs_profile_percent"] == pytest.approx(0.0) and l16["tower_vs_profile_p"] == 1.0
    assert pd.isna(frame.loc[step["10 titles of history"], "tower"]) and pd.isna(frame.loc[step["all 30 LLM layers"], "tower"])
    # on the page: the towers in the scale table, not among the main suite's controls
    write_claims_page(tmp_path, pool, None)
    assert set(pd.read_csv(tmp_path / "controls.csv")["name"]) == {"mformer_tower"}
    assert "tower_K8_L32" in set(pd.read_csv(tmp_path / "scale.csv")["tower"])


def as_backbones_run(record: dict, name: str, factor: float) -> dict:
    """The record as the backbones suite's run `name` (its config, its own key), its validation ranks times `factor`."""
    from bench.suites import expand, load_suite

    out = valid_scaled(record, factor)
    out.update(name=name, key=f"{record['key']}{name}", config=next(s.config for s in expand(load_suite("backbones")) if s.name == name))
    return out


def test_the_second_backbones_laser_is_a_scale_step_and_its_full_ft_is_not():
    """The backbones suite's Laser (validation ranks halved) stands against the main suite's BERT4Rec
    and, as a change of the profile, against the profile's Laser; its full FT, though better still,
    never stands for the Laser side; the main suite's pool keeps neither."""
    from bench.report.build import suite_records
    from bench.report.claims import SCALE_STEPS
    from bench.report.scale import scale_frame

    laser, bert4rec, full_ft = committed("laser-"), committed("bert4rec-"), committed("full_ft-")
    seed0 = [r for r in laser if r["seed"] == 0]
    records = laser + bert4rec + [as_backbones_run(seed0[0], "laser_gemma", 0.5), as_backbones_run(full_ft[0], "full_ft_gemma", 0.1)]

    def pool(name):
        return suite_records(records, name) if name in ("main", "backbones") else []

    assert {r["name"] for r in pool("backbones")} == {"laser_gemma", "full_ft_gemma"}
    assert not {"laser_gemma", "full_ft_gemma"} & {r["name"] for r in pool("main")}
    gemma = scale_frame(SCALE_STEPS, pool).set_index("step").loc[next(s.label for s in SCALE_STEPS if s.label.startswith("Gemma"))]
    assert gemma["laser"] == "laser_gemma" and gemma["seeds"] == 1
    assert gemma["vs_profile_percent"] > 20 and gemma["vs_profile_p"] < 0.05
    b4r0 = next(r for r in bert4rec if r["seed"] == 0)["metrics"]["valid"]["ndcg@10"]
    assert gemma["bert4rec_mean"] == pytest.approx(b4r0)


def test_the_best_rival_stands_for_a_side_of_several_rows():
    laser, bert4rec, sasrec, pop = committed("laser-"), committed("bert4rec-"), committed("sasrec-"), committed("pop-")
    row = claims_frame([CLAIMS[0]], lambda pool: laser + bert4rec + sasrec + pop, load_paper_results()).iloc[0]
    assert row["claim"] == "T2" and row["b"] == "bert4rec" and row["verdict"] == REVERSED
    table = pd.read_csv(ROOT / "reports" / "main" / "main_table.csv", header=None)
    improv = table[(table[0] == "Improv.") & (table[5] == "ndcg@10")].iloc[0, 6]
    assert row["effect_percent"] == pytest.approx(float(improv), abs=0.1)  # the main table's Improv. on NDCG@10


def test_the_bootstrap_interval_is_seeded_and_holds_the_effect():
    from bench.report.paired import paired_effect

    rng = np.random.default_rng(1)
    a = {0: rng.geometric(0.1, 300).tolist(), 1: rng.geometric(0.1, 300).tolist()}
    b = {0: rng.geometric(0.05, 300).tolist(), 1: rng.geometric(0.05, 300).tolist()}
    first, again = paired_effect(a, b, "ndcg@10"), paired_effect(a, b, "ndcg@10")
    assert first == again and first.low < first.percent < first.high and first.seeds == 2 and first.users == 300
    assert first.percent == pytest.approx((first.a_mean - first.b_mean) / first.b_mean * 100)
    assert paired_effect(a, {2: b[0]}, "ndcg@10") is None  # no shared seed: nothing to pair


def test_a_new_claim_is_one_more_entry():
    claim = Comparison("X", "Table 4", "w/o M-Former is below w/o MoE", "", a=Side("m_former", "no_moe"), b=Side("m_former", "no_mformer"), paper_effect=None)
    records = committed("laser__no_moe-", "laser__no_mformer-")
    row = claims_frame([claim], lambda pool: ablation_records(records, pool)[0], load_paper_results()).iloc[0]
    assert (row["a"], row["b"], row["a_seeds"], row["b_seeds"]) == ("laser/no_moe", "laser/no_mformer", 3, 3)


# ---------------------------------------------------------------- probes and controls


def probed(record: dict, probes: dict) -> dict:
    return {**copy.deepcopy(record), "probes": probes}


def probe_result(ranks) -> dict:
    from bench.metrics import metrics_from_ranks

    return {"metrics": metrics_from_ranks(ranks), "ranks": list(ranks), "seconds": 1.0}


def test_the_id_shuffle_finding_follows_the_probe(tmp_path):
    from bench.report.probe_frames import findings, probe_frame

    laser = committed("laser-")
    harmless = [probed(r, {"id_shuffled": probe_result(r["ranks"]["test"])}) for r in laser]
    frame = probe_frame(harmless)
    row = frame[(frame["name"] == "laser") & (frame["probe"] == "id_shuffled")].iloc[0]
    assert row["change_percent"] == 0 and row["p_value"] == 1.0 and row["seeds"] == 3
    assert any("does not carry user-specific collaborative signal" in line for line in findings(frame, pd.DataFrame()))
    costly = [probed(r, {"id_shuffled": probe_result(scaled(r, 4.0)["ranks"]["test"])}) for r in laser]
    frame = probe_frame(costly)
    said = findings(frame, pd.DataFrame())
    assert any("so the prefix carries user-specific collaborative signal here" in line for line in said)
    assert any("laser_fusion" in line and "Not measured yet" in line for line in said)
    assert any("Not measured yet" in line for line in findings(probe_frame([]), pd.DataFrame()))


def test_a_probe_is_paired_with_the_run_rescored_in_its_sitting_where_the_record_has_it():
    from bench.report.probe_frames import probe_frame

    (laser,) = committed("laser-2d5f")
    rescored = scaled(laser, 2.0)["ranks"]["test"]
    record = probed(laser, {"none": probe_result(rescored), "text_blank": probe_result(rescored), "text_shuffled": {"error": "RuntimeError: x"}})
    frame = probe_frame([record]).set_index("probe")
    assert frame.loc["text_blank", "change_percent"] == 0  # against "none", not against the record's own test ranks
    assert frame.loc["text_shuffled", "seeds"] == 0 and frame.loc["text_shuffled", "failed"] == 1
    assert probe_frame([probed(laser, {"error": "RuntimeError: out of memory"})])["failed"].tolist() == [1]


def fusion(record: dict, factor: float, seed_lambda: float = 0.5) -> dict:
    out = scaled(record, factor)
    out.update(name="laser_fusion", method="laser_fusion", family="control", key="f" + record["key"])
    out["training"] = {"fusion": {"lambda": seed_lambda, "grid": {"0.5": 0.05}}}
    return out


def test_the_fusion_finding_and_the_control_rows(tmp_path):
    from bench.report.probe_frames import control_frame, findings

    bert4rec, laser = committed("bert4rec-"), committed("laser-")
    better = control_frame(bert4rec + laser + [fusion(r, 0.5) for r in bert4rec])
    row = better.iloc[0]
    assert row["name"] == "laser_fusion" and row["seeds"] == 3 and row["bert4rec_seeds"] == 3 and row["laser_seeds"] == 3
    assert row["bert4rec_effect_percent"] > 0 and row["bert4rec_p_value"] < 0.05 and row["lambdas"] == "0.5, 0.5, 0.5"
    assert any("so Laser's text path adds something BERT4Rec does not have" in line for line in findings(pd.DataFrame(columns=["name", "probe", "seeds"]), better))
    same = control_frame(bert4rec + [fusion(r, 1.0) for r in bert4rec])
    assert any("not significantly different" in line for line in findings(pd.DataFrame(columns=["name", "probe", "seeds"]), same))
    worse = control_frame(bert4rec + [fusion(r, 2.0) for r in bert4rec])
    assert worse.iloc[0]["bert4rec_effect_percent"] < 0 and worse.iloc[0]["bert4rec_p_value"] < 0.05
    assert any("significantly below it" in line for line in findings(pd.DataFrame(columns=["name", "probe", "seeds"]), worse))


def test_the_claims_page_is_byte_reproducible(tmp_path):
    results = tmp_path / "results"
    write_all(results, committed("laser-", "laser__no_moe-", "bert4rec-"))
    claims_csv(results, tmp_path / "a")
    claims_csv(results, tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    # the committed Laser runs carry probes; BERT4Rec beside them gives the scale section its first row
    assert names == ["README.md", "claims.csv", "claims.pdf", "claims.png", "probes.csv", "scale.csv", "scale.pdf", "scale.png"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert b"CreationDate" not in (tmp_path / "a" / "claims.pdf").read_bytes()


def test_the_tower_finding_says_whether_the_llm_adds_to_m_former():
    from bench.report.probe_frames import control_frame, findings

    laser = committed("laser-")

    def tower(record, factor):
        out = fusion(record, factor)
        out.update(name="mformer_tower", method="mformer_tower", key="t" + record["key"])
        out["training"] = {}
        return out

    no_probes = pd.DataFrame(columns=["name", "probe", "seeds"])
    assert any("Not measured yet (no `mformer_tower`" in line for line in findings(no_probes, pd.DataFrame()))
    worse = control_frame(laser + [tower(r, 3.0) for r in laser])  # ranks tripled: far below Laser
    assert any("significantly below it, so the LLM path adds to" in line for line in findings(no_probes, worse))
    same = control_frame(laser + [tower(r, 1.0) for r in laser])
    assert any("nothing here shows the LLM adding" in line for line in findings(no_probes, same))


def test_the_stretch_line_is_met_only_by_a_regime_where_laser_stands_significantly_above_its_bert4rec():
    """The committed main suite has Laser far below its BERT4Rec: not met; a few-shot regime whose
    Laser test ranks are cut to a fifth meets it, and a regime without Laser says how to run it."""
    from bench.report.build import suite_records
    from bench.report.scale import stretch_line

    laser, bert4rec = committed("laser-"), committed("bert4rec-")
    main = stretch_line(lambda name: suite_records(laser + bert4rec, name))
    assert main.endswith("Not met.") and "the main suite on ml-100k -" in main and "3 seeds" in main
    assert "the fewshot20 suite: no Laser run (bench run --suite fewshot20 --methods laser)" in main
    few = [few_shot(scaled(r, 0.2), 0.05) for r in laser] + [few_shot(r, 0.05) for r in bert4rec]
    line = stretch_line(lambda name: suite_records(laser + bert4rec + few, name))
    assert line.endswith("Met.") and "the fewshot5 suite on ml-100k +" in line
