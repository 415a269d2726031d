"""What `bench run` and `bench ablate` print at their end is the report's own table (mean ± std
over every recorded seed, the floor row, significance), read from the records: here the
committed records against the committed reports."""

from __future__ import annotations

import re
from pathlib import Path

from bench.cli import ablation_summary, suite_summary

ROOT = Path(__file__).resolve().parents[1]


def markdown_rows(readme: Path, caption: str) -> list[list[str]]:
    """The body rows of the Markdown table under `**caption**` (the caption as it opens: its seed
    count follows), as plain cell texts."""
    lines = readme.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"**{caption}, ") or line == f"**{caption}**") + 2
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows.append([re.sub(r"\*\*|</?ins>|</?sup>", "", c) for c in cells])
    return rows


def assert_same_rows(text: str, rows: list[list[str]]) -> None:
    assert rows
    for row in rows:
        pattern = r"\s+".join(re.escape(c) for c in row if c)
        assert re.search(pattern, text), f"row not printed: {row}"


def test_bench_runs_summary_is_the_reports_main_table():
    text = suite_summary(ROOT / "results", "main")
    readme = ROOT / "reports" / "main" / "README.md"
    runs = re.search(r"Runs: (\d+) \(", readme.read_text()).group(1)
    assert text.startswith(f"Suite main: {runs} recorded runs over seeds 0, 1, 2.")
    assert_same_rows(text, markdown_rows(readme, "Main results (paper Table 2 layout)"))
    assert "Mean ± sample std over seeds (" in text and "laser vs the floor (pop)" in text
    assert text.index("Improv.") < text.index("Non-personalised")  # the floor closes the table


def test_bench_ablates_summary_is_the_reports_section_over_every_recorded_seed():
    text = ablation_summary(ROOT / "results", "m_former", (), [0])
    assert text.startswith("Ablation m_former: seeds 0, 1, 2 recorded (this command ran seed 0).")
    assert_same_rows(text, markdown_rows(ROOT / "reports" / "ablations" / "README.md", "Ablation of m_former (paper Table 4 layout)"))


def test_bench_ablate_ends_with_that_table_and_how_its_runs_ended(monkeypatch, capsys):
    from bench import runner
    from bench.cli import main

    def nothing_to_train(specs, results, *args, tally=None, **kwargs):  # every run finished: all reused
        assert {s.seed for s in specs} == {1}  # only the seeds asked for are run
        tally["skipped"] += len(specs)
        return []

    monkeypatch.setattr(runner, "run_specs", nothing_to_train)
    assert main(["ablate", "--component", "m_former", "--seeds", "1", "--quiet", "--results", str(ROOT / "results")]) == 0
    out = capsys.readouterr().out
    assert "Ablation m_former: seeds 0, 1, 2 recorded (this command ran seed 1)." in out
    assert "Ablation of m_former (paper Table 4 layout)" in out
    assert "3 runs: 3 reused (finished records); 0 trained." in out
    assert f"`bench report --results {ROOT / 'results'}` writes reports/ablations/README.md" in out


def test_bench_ablate_takes_fixed_threads_as_bench_run_does(monkeypatch, capsys):
    # a run beside a fixed-thread one must not share cores it cannot see: ablate needs --threads too
    from bench import runner
    from bench.cli import main

    asked = []

    def record_threads(specs, results, *args, threads=None, tally=None, **kwargs):
        asked.append(threads)
        tally["skipped"] += len(specs)
        return []

    monkeypatch.setattr(runner, "run_specs", record_threads)
    for extra in (["--threads", "1"], []):
        assert main(["ablate", "--component", "m_former", "--quiet", "--results", str(ROOT / "results"), *extra]) == 0
    capsys.readouterr()
    assert asked == [1, None]
