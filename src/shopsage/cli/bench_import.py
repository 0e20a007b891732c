"""``shopsage bench import``: events per second into each store backend, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from shopsage.cli.bench import bench_app
from shopsage.cli.console import console, run_or_fail
from shopsage.data.import_bench import measure_import


@bench_app.command("import")
def bench_import(
    data: Path = typer.Option(..., "--data", help="Path to import (file or folder)."),
    fmt: str = typer.Option(..., "--format", help="Import format, as in `shopsage import`."),
    store: list[str] = typer.Option(..., "--store", help="Store URL to measure; repeat for several. "
                                    "Each is emptied before every run: use a scratch file or a ?schema=."),
    repeats: int = typer.Option(3, "--repeats", min=1),
    json_out: Path = typer.Option(None, "--json", help="Write the results as JSON here."),
) -> None:
    """Import the same data into each store (emptied before each run); report events per second."""
    results = [run_or_fail(lambda url=url: measure_import(fmt, str(data), url, repeats)) for url in store]
    table = Table("store", "events", "best events/s", "median events/s", "runs (s)")
    for r in results:
        table.add_row(r["store"], f"{r['runs'][0]['events']:,}", f"{r['best_events_per_s']:,}",  # type: ignore[index]
                      f"{r['median_events_per_s']:,}", " ".join(str(x["seconds"]) for x in r["runs"]))  # type: ignore[index]
    console.print(table)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(results, indent=2))
