"""``shopsage store prune``: store maintenance (the service runs the same pruning hourly)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from shopsage.cli.console import console, run_or_fail
from shopsage.cli.data_commands import (
    STORE_HELP,
    config_of,
    default_store,
    home_of,
    home_option,
    open_existing,
)

__all__ = ["store_app"]

store_app = typer.Typer(help="Store maintenance.", no_args_is_help=True)


@store_app.command("prune")
def prune(
    ctx: typer.Context,
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    home: Path = home_option(),
    request_retention_days: float = typer.Option(None, "--request-retention-days", help="Days an Idempotency-Key's record answers retries (default: "
                                                 "the config's store.request_retention_days, 7)."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Delete the exactly-once records of API requests older than the retention: a retry after that is a
    new request (its events with ids are still duplicates). A running service does this every hour."""
    from shopsage.data.stores.retention import prune_store

    home = home_of(ctx, home)
    url = store or default_store(ctx, home)
    days = request_retention_days if request_retention_days is not None else config_of(ctx).store.request_retention_days
    st = open_existing(url)
    try:
        counts = run_or_fail(lambda: prune_store(st, days))
    finally:
        st.close()
    if as_json:
        console.print_json(json.dumps({**counts, "request_retention_days": days}))
        return
    console.print(f"pruned {url}: {counts['requests']:,} request records older than {days:g} days")
