"""Progress of long steps (embedding, indexing, importing, training), reported as ``(done, total, what)``.

Library code that may run for more than a few seconds takes an optional :class:`Progress` and
calls it as work gets done; it never draws anything itself. The caller decides how it shows:
``shopsage.cli.console.progress_bar()`` draws rich bars on a terminal and falls back to
:class:`LineProgress` (a plain line every few seconds) when stderr is a log file; the service
logs through :class:`LineProgress` too; tests pass a list's ``append``-like recorder.

The calls of one step share its ``what`` (``"embedding item texts"``); ``done`` counts up to
``total`` (``None`` when the size is not known in advance, e.g. rows of a file being read); a
call with ``done == total`` ends the step. A ``done`` smaller than the previous one starts the
step again (a second round of the same work)::

    def train(data, progress: Progress | None = None) -> None:
        report = progress or silent
        for epoch in range(1, epochs + 1):
            ...
            report(epoch, epochs, "training sasrec (epochs)")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Progress", "silent", "LineProgress", "describe"]


class Progress(Protocol):
    """Receives ``(done, total, what)`` as a step advances; see the module docstring."""

    def __call__(self, done: int, total: int | None, what: str) -> None: ...


def silent(done: int, total: int | None, what: str) -> None:
    """A :class:`Progress` that shows nothing."""


def describe(done: int, total: int | None, what: str, seconds: float | None = None) -> str:
    """``what: 1,234 / 4,385 (28%), 70 s`` (the share only with a total, the time only when given)."""
    text = f"{what}: {done:,}"
    if total:
        text += f" / {total:,} ({100 * done / total:.0f}%)"
    if seconds is not None:
        text += f", {seconds:,.0f} s"
    return text


class LineProgress:
    """A :class:`Progress` that writes a plain line per step at most every ``every_s`` seconds.

    For logs and terminals without a live display: a step that ends within ``every_s`` seconds
    writes nothing; a longer one writes a line every ``every_s`` seconds and one when it ends.
    """

    def __init__(self, write: Callable[[str], None], every_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write = write
        self.every_s = every_s
        self.clock = clock
        self._steps: dict[str, tuple[float, float, int, bool]] = {}  # what -> (started, last line, done, said)

    def __call__(self, done: int, total: int | None, what: str) -> None:
        now = self.clock()
        started, last, before, said = self._steps.get(what, (now, now, -1, False))
        if done < before:  # the same step again: a new round
            started, last, said = now, now, False
        finished = total is not None and done >= total
        if now - last >= self.every_s or (finished and said):
            self.write(describe(done, total, what, now - started))
            last, said = now, True
        if finished:
            self._steps.pop(what, None)
        else:
            self._steps[what] = (started, last, done, said)
