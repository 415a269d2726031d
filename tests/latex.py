"""pdflatex for the tests that compile LaTeX: skipped where it is missing, with the reason in the
summary (`-rs`), and a failure instead where LASER_BENCH_REQUIRE_LATEX is set (.ci/run sets it
after installing TeX Live), so CI never skips the claim that the tables compile."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REQUIRE = "LASER_BENCH_REQUIRE_LATEX"
INSTALL = "apt-get install texlive-latex-base texlive-latex-recommended"


def pdflatex() -> str:
    path = shutil.which("pdflatex")
    if path is None:
        if os.environ.get(REQUIRE):
            pytest.fail(f"pdflatex is missing and {REQUIRE} is set ({INSTALL})")
        pytest.skip(f"pdflatex is not installed: the LaTeX tables were not compiled ({INSTALL})")
    return path


def compile_tex(tex: str, folder: Path) -> Path:
    """Compile `tex` (a whole document) in `folder`; the PDF, or a failure with pdflatex's log tail."""
    (folder / "doc.tex").write_text(tex, encoding="utf-8")
    run = subprocess.run([pdflatex(), "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=folder, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout[-2000:]
    return folder / "doc.pdf"
