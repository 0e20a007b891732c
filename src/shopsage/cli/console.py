"""Shared console helpers: one rich console, error reporting, progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from shopsage.errors import ShopSageError

__all__ = ["console", "err_console", "fail", "progress", "run_or_fail"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def run_or_fail(fn: Callable[[], object]) -> object:
    """Run ``fn``; a ShopSage error becomes a one-line message and exit code 2 instead of a traceback."""
    try:
        return fn()
    except ShopSageError as exc:
        fail(str(exc))


def progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,} rows"), TimeElapsedColumn(), console=err_console,
                    disable=not sys.stderr.isatty())
