"""The committed reports/ are what the commands write from the committed records and data:
regenerating them on a fresh clone changes nothing, and the LaTeX tables shipped there compile."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checkout_guard import changes, checkout_state
from tests.latex import compile_tex

ROOT = Path(__file__).resolve().parents[1]
TEXT = (".csv", ".tex", ".md")


def test_committed_dataset_table_is_ml100k(ml100k, tmp_path):
    from bench.data.stats import stats_rows, write_stats

    for path in write_stats(stats_rows([ml100k]), tmp_path):  # what `bench data stats ml-100k` writes
        assert path.read_bytes() == (ROOT / "reports" / "datasets" / path.name).read_bytes(), path.name


def test_committed_reports_are_what_bench_report_writes(tmp_path):
    """Tables and READMEs byte for byte; figures by name only (their pixels depend on the
    installed matplotlib and FreeType, their metadata on neither: tests/test_reports.py)."""
    from bench.ablations import components
    from bench.report import build_reports
    from bench.runner import is_current, is_run_of

    written = build_reports(ROOT / "results", tmp_path, is_current=is_current, runs_as=is_run_of, components=sorted(components()))  # as `bench report` calls it
    for path in written:
        committed = ROOT / "reports" / path.relative_to(tmp_path)
        assert committed.exists(), f"{committed} is not committed"
        if path.suffix in TEXT:
            assert path.read_bytes() == committed.read_bytes(), f"{committed} differs from what `bench report` writes from results/runs"
    # and nothing more in the folders it writes: a table the reports no longer make (a published
    # table a component stopped borrowing) must not linger beside them
    ours = {path.relative_to(tmp_path) for path in written}
    left = [p for folder in {path.parent for path in ours} for p in sorted((ROOT / "reports" / folder).iterdir()) if p.is_file() and p.relative_to(ROOT / "reports") not in ours]
    assert not left, f"committed but no longer written by `bench report`: {[str(p.relative_to(ROOT)) for p in left]}"


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (ROOT / "reports").glob("*/tables.tex")))
def test_committed_latex_tables_compile(folder, tmp_path):
    assert compile_tex((ROOT / "reports" / folder / "tables.tex").read_text(), tmp_path).stat().st_size > 1000


def test_committed_dataset_table_compiles(tmp_path):
    body = (ROOT / "reports" / "datasets" / "dataset_stats.tex").read_text()
    compile_tex("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + body + "\\end{document}\n", tmp_path)


def test_the_checkout_guard_sees_every_kind_of_write(tmp_path):
    import os
    import subprocess

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text("results/cache/\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "table.csv").write_text("a\n1\n")
    git("add", ".")
    git("commit", "-q", "-m", "init")
    before = checkout_state(tmp_path)
    assert changes(before, checkout_state(tmp_path)) == []
    table = tmp_path / "reports" / "table.csv"
    table.write_text("a\n1\n")  # the same bytes, rewritten: still a write, seen by its mtime
    os.utime(table, ns=(table.stat().st_atime_ns, table.stat().st_mtime_ns + 10**9))  # a later second, as a coarse-mtime file system would need
    (tmp_path / "code.py").write_text("x = 2\n")
    (tmp_path / "new.txt").write_text("stray\n")
    (tmp_path / "results" / "cache").mkdir(parents=True)
    (tmp_path / "results" / "cache" / "split.json").write_text("{}")  # ignored by git, still under results/
    changed = changes(before, checkout_state(tmp_path))
    assert "reports/table.csv" in changed and "results/cache/split.json" in changed
    assert any(c.startswith("git status:") and "code.py" in c for c in changed)
    assert any(c.startswith("git status:") and "new.txt" in c for c in changed)
