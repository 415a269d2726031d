"""The user-group view every suite's README gets (and the claims page, for the main suite): it
gives what reports/experiments/where_laser_loses.py gave before it replaced that script, and says
so when it cannot read the split the records were made on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.results import iter_records

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "results" / "runs" / "ml-100k"


def committed_laser() -> dict:
    return json.loads(next(RUNS.glob("laser-2d5f*.json")).read_text())


def test_the_user_group_view_gives_what_where_laser_loses_py_gave():
    """The committed main-suite records, grouped as reports/experiments/where_laser_loses.py did
    before this view replaced it (tests/data/where_laser_loses.json: its numbers, then). Laser's
    three seeds, LoRA's seed 0 and full FT's seed 0 were retrained since (same keys): their ranks as the script read
    them are tests/data/ranks_before_retraining.json."""
    from bench.report.build import suite_records
    from bench.report.user_groups import user_group_section
    from bench.runner import is_current, is_run_of

    script = json.loads((ROOT / "tests" / "data" / "where_laser_loses.json").read_text())
    before = json.loads((ROOT / "tests" / "data" / "ranks_before_retraining.json").read_text())
    current = [{**r, "ranks": before[r["key"]]} if r.get("key") in before else r for _, r in iter_records(ROOT / "results") if is_current(r)]
    section, missing = user_group_section(suite_records(current, "main", is_run_of), ROOT / "results")
    assert missing == []
    for grouping in ("target_count", "history"):
        part = section.frame[section.frame["grouping"] == grouping]
        wide = part.pivot_table(index="group", columns="name", values="value", sort=False)
        assert list(wide.index) == script[grouping]["groups"]
        assert part.drop_duplicates("group")["users"].tolist() == script[grouping]["users"]
        for name in ("pop", "lora", "full_ft", "laser", "sasrec", "bert4rec"):
            assert wide[name].tolist() == pytest.approx(script[grouping][name], rel=1e-12, abs=1e-15), (grouping, name)
        view = next(v for v in section.views if v.caption.endswith("history length" if grouping == "history" else "training sequences"))
        ratios = [float(row[-1].text) for row in view.rows]
        assert ratios == pytest.approx([round(x, 2) for x in script[grouping]["laser/bert4rec"]], abs=0.006)


def test_a_split_that_cannot_be_read_is_said_not_hidden(tmp_path):
    from bench.report.user_groups import user_group_section

    laser = committed_laser()
    section, missing = user_group_section([{**laser, "split_hash": "0123456789abcdef"}], tmp_path)
    assert section is None and missing and "0123456789abcdef" in missing[0] and "928016a53fc96046" in missing[0]


def test_the_saved_split_is_read_where_it_is_there(tmp_path, ml100k):
    from bench.report.split_facts import split_facts
    from bench.data.splits import leave_one_out, save_split

    split = leave_one_out(ml100k)
    save_split(tmp_path, split)
    laser = committed_laser()
    facts = split_facts([laser], tmp_path)
    counts = np.bincount([i for s in split.train for i in s], minlength=split.n_items + 1)
    assert list(facts.train_count["valid"]) == [int(counts[t]) for t in split.valid_target]
    assert list(facts.history["test"]) == [len(s) + 1 for s in split.train]
