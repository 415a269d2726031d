"""Progress of the long steps (training epochs, item encoding, validation, pre-training), readable
in a terminal, in a log file and under `bench run --jobs N`.

A bar is tqdm's, redrawn in place, when one process owns a terminal. Otherwise it is a line every
`LINE_INTERVAL_S` seconds: N joblib workers share the parent's terminal (loky workers inherit
its stdout and stderr), and bars that each redraw the current line overwrite one another; a log
file would get every redraw. Every line is flushed as it is written, because a worker's stdout
into a pipe or a file is block-buffered: `bench run --jobs 2 | tee log` showed a run's epoch
lines only when the run ended. In line mode a bar's lines name their run (`labelled`), since
lines of several runs interleave.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

LINE_INTERVAL_S = 15.0  # one line per bar per this many seconds: a few lines a minute per run

_forced_lines = False
_label: str | None = None


def use_lines() -> None:
    """Lines instead of redrawn bars in this process (a joblib worker: others share its terminal)."""
    global _forced_lines
    _forced_lines = True


def line_mode() -> bool:
    return _forced_lines or not _isatty(sys.stderr)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


@contextmanager
def labelled(label: str) -> Iterator[None]:
    """Inside the block, line-mode bars start with `[label]` (the run they belong to)."""
    global _label
    before, _label = _label, label
    try:
        yield
    finally:
        _label = before


def write(text: str) -> None:
    """One line on stdout, above any bar of this process, flushed at once."""
    from tqdm import tqdm

    if line_mode():
        print(text, flush=True)
    else:
        tqdm.write(text)
        sys.stdout.flush()


def bar(iterable: Iterable | None = None, *, desc: str, total: int | None = None, unit: str = "it", disable: bool = False):
    """A progress bar over `iterable` (or, without one, advanced by `update(n)` up to `total`);
    usable as a context manager either way. Short steps stay silent in line mode: a bar writes
    its first line after `LINE_INTERVAL_S`, and a last one when it ends only if it wrote any."""
    from tqdm import tqdm

    if disable or not line_mode():
        return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, disable=disable)
    return LineBar(iterable, desc=desc, total=total, unit=unit)


class LineBar:
    """tqdm's meter as whole lines on stderr, at most one per `interval_s` (see the module doc)."""

    def __init__(self, iterable: Iterable | None = None, *, desc: str, total: int | None = None, unit: str = "it", interval_s: float | None = None, stream=None) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit = total, desc, unit
        self.interval_s = LINE_INTERVAL_S if interval_s is None else interval_s
        self.stream = stream
        self.label = _label
        self.postfix = ""
        self.n = 0
        self.start = self.last = time.monotonic()
        self.shown: int | None = None  # the count the last line showed
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("a LineBar without an iterable is advanced with update()")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.interval_s:
            self.last = now
            self._show(now)

    def close(self) -> None:
        if not self.closed and self.shown is not None and self.shown != self.n:  # the last line, unless just written
            self._show(time.monotonic())
        self.closed = True

    def __enter__(self) -> "LineBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def text(self, now: float) -> str:
        from tqdm import tqdm

        meter = tqdm.format_meter(self.n, self.total, now - self.start, prefix=self.desc, unit=self.unit, ncols=0, postfix=self.postfix or None)
        return f"  [{self.label}] {meter}" if self.label else f"  {meter}"

    def _show(self, now: float) -> None:
        stream = self.stream or sys.stderr
        stream.write(self.text(now) + "\n")
        stream.flush()
        self.shown = self.n
