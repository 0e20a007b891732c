"""Progress reporting: plain periodic lines for logs, rich bars for terminals, one ``(done, total, what)`` call."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress as RichProgress

from shopsage.cli.console import RichBars
from shopsage.progress import LineProgress, describe, silent


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_line_progress_says_nothing_of_a_quick_step_and_a_line_per_interval_of_a_long_one() -> None:
    lines: list[str] = []
    clock = Clock()
    report = LineProgress(lines.append, every_s=10, clock=clock)
    for done in range(1, 6):  # 5 steps within 4 s: quiet
        report(done, 5, "quick")
        clock.now += 1
    assert lines == []
    start = clock.now
    for done in range(1, 31):  # one call a second: the step runs 29 s from its first call
        clock.now = start + done
        report(done, 30, "embedding texts")
    assert lines == ["embedding texts: 11 / 30 (37%), 10 s", "embedding texts: 21 / 30 (70%), 20 s",
                     "embedding texts: 30 / 30 (100%), 29 s"]


def test_line_progress_keeps_steps_apart_and_restarts_a_step_that_counts_again() -> None:
    lines: list[str] = []
    clock = Clock()
    report = LineProgress(lines.append, every_s=5, clock=clock)
    report(100, None, "import (rows read)")
    clock.now = 6
    report(1, 3, "training models")  # another step: its own clock
    report(200, None, "import (rows read)")
    assert lines == ["import (rows read): 200, 6 s"]
    report(50, None, "import (rows read)")  # fewer than before: a new round, timed from now
    clock.now = 8
    report(60, None, "import (rows read)")
    assert len(lines) == 1


def test_describe_and_silent() -> None:
    assert describe(1234, 4385, "embedding texts", 70.4) == "embedding texts: 1,234 / 4,385 (28%), 70 s"
    assert describe(5, None, "import") == "import: 5"
    assert silent(1, 2, "x") is None


def test_rich_bars_keep_one_task_per_step_and_restart_it() -> None:
    bars = RichProgress(console=Console(file=io.StringIO(), force_terminal=True))
    report = RichBars(bars)
    report(64, 4385, "embedding texts")
    report(128, 4385, "embedding texts")
    report(20_000, None, "import (rows read)")
    tasks = {t.description: t for t in bars.tasks}
    assert set(tasks) == {"embedding texts", "import (rows read)"}
    assert (tasks["embedding texts"].completed, tasks["embedding texts"].total) == (128, 4385)
    assert tasks["import (rows read)"].total is None and tasks["import (rows read)"].fields["count"] == "20,000"
    report(1, 2, "embedding texts")  # counting again: the step starts over
    again = [t for t in bars.tasks if t.description == "embedding texts"]
    assert len(again) == 1 and (again[0].completed, again[0].total) == (1, 2)
    assert again[0].fields["count"] == "1 / 2"
