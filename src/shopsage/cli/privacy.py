"""``shopsage privacy report|ledger``: publishable differentially private counts, and the budget they spent."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from shopsage.cli.console import console, run_or_fail
from shopsage.cli.data_commands import (
    STORE_HELP,
    config_of,
    default_store,
    home_of,
    home_option,
    open_existing,
)

__all__ = ["privacy_app"]

privacy_app = typer.Typer(help="Differentially private reports and the privacy budget they spend.",
                          no_args_is_help=True)


@privacy_app.command("report")
def report(
    ctx: typer.Context,
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    home: Path = home_option(),
    epsilon: float = typer.Option(None, "--epsilon", min=0.0001, help="Epsilon this report spends (default: the "
                                  "config's privacy.budget.epsilon_per_release)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Shoppers per event type and per top-level category, with differentially private noise: safe to
    publish. Each report spends privacy budget, recorded in <home>/privacy/ledger.jsonl."""
    from shopsage.privacy.dp import PrivacyLedger
    from shopsage.privacy.report import activity_report

    home = home_of(ctx, home)
    url = store or default_store(ctx, home)
    ledger = PrivacyLedger.of_home(home, config_of(ctx).privacy.budget)
    st = open_existing(url)
    try:
        rep = run_or_fail(lambda: activity_report(st, ledger, epsilon))
    finally:
        st.close()
    if as_json:
        console.print_json(json.dumps(rep.as_dict()))
        return
    for title, counts in (("shoppers by event type", rep.by_type), ("shoppers by category", rep.by_category)):
        table = Table("key", "shoppers (noisy)", title=title)
        for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            table.add_row(key, f"{n:,}")
        console.print(table)
    console.print(f"epsilon {rep.epsilon:g} spent (noise scale {rep.noise_scale:g} per count, each shopper counted "
                  f"toward at most {rep.max_contributions} keys per table); {ledger.spent():g} of "
                  f"{ledger.budget.epsilon_per_period:g} used in the last {ledger.budget.period_days:g} days")


@privacy_app.command("ledger")
def ledger_cmd(
    ctx: typer.Context,
    home: Path = home_option(),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Every differentially private release of the home, and the budget left in the current period."""
    from shopsage.privacy.dp import PrivacyLedger

    home = home_of(ctx, home)
    ledger = PrivacyLedger.of_home(home, config_of(ctx).privacy.budget)
    releases = run_or_fail(ledger.releases)
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in releases]))
        return
    table = Table("when (UTC)", "what", "epsilon", "delta", title=str(ledger.path))
    for r in releases:
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.at)), r.what, f"{r.epsilon:g}", f"{r.delta:g}")
    console.print(table)
    console.print(f"{ledger.spent():g} of {ledger.budget.epsilon_per_period:g} spent in the last "
                  f"{ledger.budget.period_days:g} days")
