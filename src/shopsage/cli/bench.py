"""``shopsage bench ...``: benchmarks that import on the fly and write JSON + Markdown reports."""

from __future__ import annotations

import typer

__all__ = ["bench_app"]

bench_app = typer.Typer(help="Benchmarks on real data (JSON + Markdown reports).", no_args_is_help=True)

# Each benchmark family registers its command on bench_app when imported.
from shopsage.cli import (  # noqa: E402,F401
    bench_abtest,
    bench_bandit,
    bench_import,
    bench_ope,
    bench_rec,
    bench_retrain,
    bench_search,
    bench_segments,
    bench_serve,
)
