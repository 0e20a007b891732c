"""Shared console helpers: one rich console, error reporting, progress bars."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from shopsage.errors import ConfigError, ShopSageError
from shopsage.progress import LineProgress, Progress

__all__ = ["console", "err_console", "fail", "json_object", "progress_bar", "run_or_fail", "RichBars"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


T = TypeVar("T")


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def run_or_fail(fn: Callable[[], T]) -> T:
    """Run ``fn``; a ShopSage error becomes a one-line message and exit code 2 instead of a traceback."""
    try:
        return fn()
    except ShopSageError as exc:
        fail(str(exc))


class RichBars:
    """A :class:`shopsage.progress.Progress` drawing one rich bar per step (``what``)."""

    def __init__(self, bars: RichProgress) -> None:
        self.bars = bars
        self._tasks: dict[str, tuple[TaskID, int]] = {}

    def __call__(self, done: int, total: int | None, what: str) -> None:
        count = f"{done:,}" + (f" / {total:,}" if total is not None else "")
        known = self._tasks.get(what)
        if known is None or done < known[1]:  # a new step, or the same step again
            if known is not None:
                self.bars.remove_task(known[0])
            task = self.bars.add_task(what, total=total, completed=done, count=count)
        else:
            task = known[0]
            self.bars.update(task, total=total, completed=done, count=count)
        self._tasks[what] = (task, done)


@contextmanager
def progress_bar(every_s: float = 10.0) -> Iterator[Progress]:
    """A :class:`~shopsage.progress.Progress` on stderr for the ``with`` block: rich bars on a terminal,
    else a plain line per step every ``every_s`` seconds (CI logs stay readable; quick steps say nothing)."""
    if not err_console.is_terminal:
        yield LineProgress(lambda line: err_console.print(line, markup=False, highlight=False), every_s)
        return
    bars = RichProgress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                        TextColumn("{task.fields[count]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=err_console)
    with bars:
        yield RichBars(bars)


def json_object(text: str | None, option: str, example: str, value_type: type = object,
                what: str = "values") -> dict[str, Any]:
    """The JSON object given on the command line as ``option`` (empty when absent); every value must be
    a ``value_type``. Errors say what to type, with ``example``."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{option} is not JSON ({exc}); example: '{example}'") from None
    if not isinstance(value, dict) or not all(isinstance(v, value_type) for v in value.values()):
        raise ConfigError(f"{option} must be a JSON object of {what}, e.g. '{example}'")
    return value
