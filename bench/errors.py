"""User-facing errors: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake in the user's input (a name, a file, a value), not a bug in the harness.

    Its text is always one line: embedded newlines (from a wrapped exception, a YAML
    snippet, a value) are folded into ' | ' here, once, for every caller."""

    def __str__(self) -> str:
        return " | ".join(part.strip() for part in super().__str__().splitlines() if part.strip())


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean: a, b?)' for the closest choices, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), sorted(choices), n=3, cutoff=0.5)
    return f" (did you mean: {', '.join(close)}?)" if close else ""


def unknown(kind: str, name: str, choices: Iterable[str]) -> UserError:
    choices = sorted(choices)
    hint = did_you_mean(name, choices)
    if not hint:
        hint = f" (known: {', '.join(choices)})" if len(choices) <= 12 else ""
    return UserError(f"unknown {kind} {name!r}{hint}")
