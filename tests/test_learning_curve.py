"""The learning-curve view: drawn from the records a spec names, with the floor from the results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "reports" / "experiments"


def test_the_committed_spec_draws_from_its_records(tmp_path, capsys):
    spec = json.loads((EXPERIMENTS / "learning_curve.json").read_text())
    (tmp_path / "records").mkdir()
    for run in spec["runs"]:
        shutil.copy(EXPERIMENTS / run["record"], tmp_path / run["record"])
    (tmp_path / "learning_curve.json").write_text(json.dumps(spec))
    out = tmp_path / "reports"
    assert main(["--results", str(ROOT / "results"), "report", "--suite", "main", "--out", str(out), "--learning-curve", str(tmp_path / "learning_curve.json")]) == 0
    printed = capsys.readouterr().out
    assert f"  {tmp_path}: 1 figure (PNG, PDF)" in printed.splitlines()  # bench report's summary names the figure's folder
    for suffix in (".png", ".pdf"):
        path = tmp_path / f"learning_curve{suffix}"
        assert path.stat().st_size > 10_000
        assert path.name in {p.name for p in EXPERIMENTS.iterdir()}  # the committed figure is this view's


def test_a_spec_without_runs_is_refused_clearly(tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"title": "t", "floor": {"method": "pop", "seed": 0}, "out": "x", "runs": []}))
    assert main(["--results", str(ROOT / "results"), "report", "--suite", "main", "--out", str(tmp_path / "r"), "--learning-curve", str(tmp_path / "bad.json")]) == 2
    assert "non-empty runs list" in capsys.readouterr().err
