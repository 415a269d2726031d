"""`--results` that is a file, `--set METHOD.KEY=VALUE` overrides, and the portable backbone
identity in records."""

from __future__ import annotations

import re

import pytest

from bench.cli import apply_settings, main
from bench.errors import UserError


def test_results_that_is_a_file_is_one_line_and_exit_2(tmp_path, capsys):
    file = tmp_path / "results"
    file.write_text("not a folder")
    assert main(["--results", str(file), "ls"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not a directory" in err and "Traceback" not in err


def test_set_overrides_the_named_methods_config_only():
    from bench.suites import expand, load_suite

    specs = expand(load_suite("main"))
    out = apply_settings(specs, ["laser.lr=5e-4", "laser.id_encoder_config.epochs=3", "sasrec.epochs=2"])
    by = {s.name: s.config for s in out}
    assert by["laser"]["lr"] == 5e-4 and by["laser"]["id_encoder_config"] == {"epochs": 3} and by["laser"]["profile"] == "cpu"
    assert by["sasrec"]["epochs"] == 2 and by["lora"] == {s.name: s.config for s in specs}["lora"]
    with pytest.raises(UserError, match="did you mean: laser"):
        apply_settings(specs, ["lasr.lr=1"])
    with pytest.raises(UserError, match="METHOD.KEY=VALUE"):
        apply_settings(specs, ["laser=1"])


def test_set_keys_are_checked_like_suite_keys(tmp_path, capsys):
    code = main(["--results", str(tmp_path / "r"), "run", "--suite", "main", "--methods", "laser", "--set", "laser.lrr=1e-3", "--quiet"])
    assert code == 2
    assert re.search(r"unknown key 'lrr'.*did you mean: lr", capsys.readouterr().err)
    assert not (tmp_path / "r" / "runs").exists()


def test_records_name_the_backbone_portably_with_a_content_hash(split):
    from bench.llm.backbone import backbone_identity
    from tests.laser_fixtures import tiny_backbone

    a = backbone_identity(tiny_backbone(split.dataset.item_text[1:]))
    b = backbone_identity(tiny_backbone(split.dataset.item_text[1:], seed=1))
    assert a["name"] == "injected" and "/" not in a["name"] and re.fullmatch(r"[0-9a-f]{16}", a["hash"])
    assert a["hash"] != b["hash"]  # other weights, other hash


def test_every_cli_option_has_help_text():
    import argparse

    from bench.cli import build_parser

    missing = []

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not action.help and action.dest != "help":
                missing.append(f"{path}: {action.dest}")

    walk(build_parser(), "bench")
    assert not missing, missing


def test_results_is_accepted_after_the_subcommand_too(tmp_path, capsys):
    from bench.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["run"]).results == "results"
    assert parse(["--results", "a", "run"]).results == "a"
    assert parse(["run", "--results", "b"]).results == "b"
    assert parse(["--results", "a", "report", "--results", "b"]).results == "b"  # the one nearer the end
    assert parse(["data", "export", "x", "--out", "o", "--results", "c"]).results == "c"
    assert parse(["probe", "--results", "d"]).results == "d"
    file = tmp_path / "results"
    file.write_text("not a folder")
    assert main(["ls", "--results", str(file)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err


def test_bench_report_ends_with_what_it_wrote_per_folder_not_every_path():
    from pathlib import Path

    from bench.cli import written_summary

    main_files = ["README.md", "main_table.csv", "main_table_published.csv", "main_table.tex", "costs.csv", "costs.tex", "tables.tex", "curves.png", "curves.pdf"]
    paths = [Path("reports/main") / f for f in main_files] + [Path("reports/ablations") / f for f in ("ablation_prefix.csv", "ablation_prefix.tex", "tables.tex", "README.md")]
    paths += [Path("reports/claims") / f for f in ("README.md", "claims.csv", "claims.png", "claims.pdf")]
    paths += [Path("reports/experiments") / f for f in ("learning_curve.png", "learning_curve.pdf")]  # --learning-curve: a figure beside its spec
    assert written_summary(paths, Path("reports")).splitlines() == [
        "Wrote 19 files under reports/:",
        "  reports/main/README.md: 2 tables (CSV, LaTeX), 1 figure (PNG, PDF)",
        "  reports/ablations/README.md: 1 table (CSV, LaTeX)",
        "  reports/claims/README.md: 1 table (CSV), 1 figure (PNG, PDF)",
        "  reports/experiments: 1 figure (PNG, PDF)",
    ]
