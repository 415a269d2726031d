"""The one LaTeX escaper, for every table the harness writes (reports, dataset statistics)."""

from __future__ import annotations

from typing import Any

_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "±": r"$\pm$",
    "×": r"$\times$",
    "−": "-",
    "–": "--",
    "†": r"$^{\dagger}$",
    "↓": r"$\downarrow$",
    "≥": r"$\geq$",
    "§": r"\S{}",
}


def latex_escape(text: Any) -> str:
    return "".join(_LATEX.get(c, c) for c in str(text))
