"""``shopsage export ubi``: what the service showed and what followed, as OpenSearch UBI files (thin)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer

from shopsage.cli.console import console, run_or_fail
from shopsage.cli.data_commands import STORE_HELP, default_store, open_existing

__all__ = ["export_app"]

export_app = typer.Typer(help="Export the store's data in other systems' formats.", no_args_is_help=True)


def _since(value: str | None) -> float | None:
    """Unix seconds or an ISO 8601 date-time with a time zone."""
    if value is None:
        return None
    from shopsage.data.cleaning import BadValue, parse_timestamp

    try:
        return parse_timestamp(value)
    except BadValue as exc:
        raise typer.BadParameter(f"{exc} (e.g. 2026-12-01T00:00:00Z)", param_hint="--since") from None


@export_app.command("ubi")
def export_ubi_command(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Folder to write ubi_queries.jsonl and ubi_events.jsonl into."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    since: str = typer.Option(None, "--since", help="Only answers and events at or after this time (Unix seconds "
                              "or ISO 8601 with a time zone)."),
    experiment: str = typer.Option(None, "--experiment", help="Only the answers of this experiment and what they led to."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Write the store's exposures (one UBI query per answer, search and recommendations) and the clicks,
    carts and purchases attributed to them (UBI events); `shopsage import ubi FOLDER` reads them back."""
    from shopsage.feedback.ubi import export_ubi

    start = _since(since)
    url = store or default_store(ctx)
    st = open_existing(url)
    try:
        counts = run_or_fail(lambda: export_ubi(st, out, start, experiment))
    finally:
        st.close()
    if as_json:
        console.print_json(json.dumps(counts))
        return
    when = f" since {datetime.fromtimestamp(start).isoformat()}" if start is not None else ""
    console.print(f"{url} -> {out}{when}: {counts['queries']:,} queries (answers), {counts['events']:,} events")  # type: ignore[index]
