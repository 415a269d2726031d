"""Rendering table views as LaTeX and Markdown (the one LaTeX escaper is bench.latex)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.latex import latex_escape
from bench.report.layout import Cell, Section, TableView


# ---------------------------------------------------------------- rendering

_LATEX_MARK = {"*": "*", "†": r"\dagger", "↓": r"\downarrow", "§": r"\S"}
LATEX_PACKAGES_COMMENT = "% needs \\usepackage{booktabs} and \\usepackage{graphicx}"


def cell_latex(cell: Cell) -> str:
    text = latex_escape(cell.text)
    if cell.text and cell.bold:
        text = rf"\textbf{{{text}}}"
    if cell.text and cell.underline:
        text = rf"\underline{{{text}}}"
    if cell.mark:
        text += "$^{" + "".join(_LATEX_MARK.get(c, c) for c in cell.mark) + "}$"
    return text


def latex_tabular(view: TableView) -> str:
    align = "l" * view.left + "r" * (len(view.columns) - view.left)
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule"]
    if any(label for label, _ in view.header):
        parts, rules, start = [], [], 1
        for label, span in view.header:
            if label:
                parts.append(rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(label)}}}")
                rules.append(rf"\cmidrule(lr){{{start}-{start + span - 1}}}")
            else:
                parts += [""] * span
            start += span
        lines += [" & ".join(parts) + r" \\", " ".join(rules)]
    lines += [" & ".join(latex_escape(c) for c in view.columns) + r" \\", r"\midrule"]
    for i, row in enumerate(view.rows):
        if i in view.breaks:
            lines.append(r"\midrule")
        lines.append(" & ".join(cell_latex(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def _latex_notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return "\n\\par\\smallskip{\\footnotesize\\raggedright\n" + "\\par\n".join(latex_escape(n) for n in notes) + "\\par}"


def _fit(tabular: str) -> str:
    """Shrink a tabular wider than the text to the text width (graphicx); narrower ones keep their size."""
    return "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n" + tabular + "}"


def latex_table(section: Section) -> str:
    """One `table` float: our tabular, then the reference blocks."""
    first, *others = section.views
    parts = [
        LATEX_PACKAGES_COMMENT,
        r"\begin{table}[htbp]",
        r"\centering",
        r"\small",
        rf"\caption{{{latex_escape(first.caption)}}}",
        rf"\label{{tab:{section.stem.replace('_', '-')}}}",
        _fit(latex_tabular(first)) + _latex_notes(first.notes),
    ]
    for view in others:
        parts += [r"\bigskip", rf"\par\textit{{{latex_escape(view.caption)}}}\par\smallskip", _fit(latex_tabular(view)) + _latex_notes(view.notes)]
    parts.append(r"\end{table}")
    return "\n".join(parts) + "\n"


def latex_document(bodies: Sequence[str]) -> str:
    return "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n" + "\n\\clearpage\n".join(bodies) + "\\end{document}\n"


def cell_markdown(cell: Cell) -> str:
    text = cell.text.replace("|", "\\|")
    if text and cell.bold:
        text = f"**{text}**"
    if text and cell.underline:
        text = f"<ins>{text}</ins>"
    return text + (f"<sup>{cell.mark}</sup>" if cell.mark else "")


def markdown_table(view: TableView) -> str:
    groups = [label for label, span in view.header for _ in range(span)] or [""] * len(view.columns)
    names = [f"{g} {c}".strip() if g else c for g, c in zip(groups, view.columns)]
    lines = [f"**{view.caption}**", "", "| " + " | ".join(n.replace("|", "\\|") for n in names) + " |"]
    lines.append("|" + "|".join("---" if i < view.left else "---:" for i in range(len(names))) + "|")
    lines += ["| " + " | ".join(cell_markdown(c) for c in row) + " |" for row in view.rows]
    lines += [""] + [f"- {n.replace('*', chr(92) + '*')}" for n in view.notes]
    return "\n".join(lines) + "\n"


def cell_text(cell: Cell, styled: bool = False) -> str:
    """A cell for a terminal: its marks kept; bold and underline as ANSI styles only when `styled`
    (a terminal), since plain text has no way to show them."""
    text = cell.text + cell.mark
    if styled and cell.text and (cell.bold or cell.underline):
        text = ("\033[1m" if cell.bold else "") + ("\033[4m" if cell.underline else "") + text + "\033[0m"
    return text


def text_table(view: TableView, styled: bool = False, notes: bool = True) -> str:
    """The view as aligned plain text (what `bench run` and `bench ablate` print at their end)."""
    plain = [[c.text + c.mark for c in row] for row in view.rows]
    widths = [max([len(name)] + [len(row[i]) for row in plain]) for i, name in enumerate(view.columns)]

    def line(cells: Sequence[str], shown: Sequence[str] | None = None) -> str:
        parts = []
        for i, (text, width) in enumerate(zip(cells, widths)):
            pad = " " * (width - len(text))
            out = shown[i] if shown is not None else text
            parts.append(out + pad if i < view.left else pad + out)
        return "  ".join(parts).rstrip()

    width = sum(widths) + 2 * (len(widths) - 1)
    lines = [view.caption, ""]
    if any(label for label, _ in view.header):
        groups, start = [], 0
        for label, span in view.header:
            span_width = sum(widths[start : start + span]) + 2 * (span - 1)
            groups.append(label.center(span_width) if label else " " * span_width)
            start += span
        lines.append("  ".join(groups).rstrip())
    lines += [line(view.columns), "-" * width]
    for i, (row, texts) in enumerate(zip(view.rows, plain)):
        if i in view.breaks:
            lines.append("-" * width)
        lines.append(line(texts, [cell_text(c, styled) for c in row]))
    if notes and view.notes:
        # unstyled, no cell is bold: the note that says what bold means would point at nothing
        lines += [""] + [f"- {n}" for n in view.notes if styled or not n.startswith("Bold:")]
    return "\n".join(lines) + "\n"
