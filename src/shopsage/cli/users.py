"""``shopsage users delete|lift-erasure|token``: erase a shopper (and lift that on purpose), or sign a token that
lets them read their own data."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from shopsage.cli.console import console, fail, run_or_fail
from shopsage.cli.data_commands import (
    STORE_HELP,
    config_of,
    default_store,
    home_of,
    home_option,
    open_existing,
)

__all__ = ["users_app"]

users_app = typer.Typer(help="A shopper's data: erase it (right to erasure), or sign a shopper token.",
                        no_args_is_help=True)


@users_app.command("delete")
def delete(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="The shopper's id as the shop knows it (or, with --pseudonym, as stored)."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    home: Path = home_option(),
    state: str = typer.Option(None, "--state", help="The service's shared state (redis://...) to forget the shopper "
                              "in too. A service with the in-process state forgets through DELETE /v1/users/{id}."),
    raw_id: bool = typer.Option(True, "--raw-id/--pseudonym", help="USER is the shop's own id, pseudonymised with "
                                "the home's key (default), or the stored pseudonym itself."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts and audit records as JSON."),
) -> None:
    """Erase a shopper's events, sessions and profile from the store (and the shared state), with an
    audit record. Models trained afterwards never see them; retrain to drop them from current models."""
    from shopsage.privacy.erase import erase_user
    from shopsage.privacy.imports import shop_pseudonymizer
    from shopsage.state import open_state

    home = home_of(ctx, home)
    url = store or default_store(ctx, home)
    pseudonymizer = run_or_fail(lambda: shop_pseudonymizer(home, config_of(ctx).privacy.raw_ids)) if raw_id else None
    st = open_existing(url)
    live = run_or_fail(lambda: open_state(state)) if state else None
    try:
        done = run_or_fail(lambda: erase_user(st, user, pseudonymizer, live))  # type: ignore[arg-type]
    finally:
        st.close()
        if live is not None:
            live.close()
    if as_json:
        console.print_json(json.dumps(done.as_dict()))
        return
    counts = ", ".join(f"{k} {v:,}" for k, v in done.counts.items())
    console.print(f"erased from {url}: {counts}" + ("; the shared state forgot them too" if done.state_forgotten else ""))
    for rec in done.audit:
        console.print(f"audit record: {rec.get('action')} of subject {rec.get('subject')} at {rec.get('at')}")


@users_app.command("lift-erasure")
def lift_erasure(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="The shopper's id as the shop knows it (or, with --pseudonym, as stored)."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    home: Path = home_option(),
    raw_id: bool = typer.Option(True, "--raw-id/--pseudonym", help="USER is the shop's own id (default), or the "
                                "stored pseudonym itself."),
) -> None:
    """Accept an erased shopper's events again (they came back and consented to the same id): removes the
    tombstones of their erasure, with an audit record. Nothing erased comes back by itself; a re-import of an
    old file would store their old events again. A new account id needs no lifting."""
    from shopsage.privacy.erase import lift_erasure as lift
    from shopsage.privacy.imports import shop_pseudonymizer

    home = home_of(ctx, home)
    url = store or default_store(ctx, home)
    pseudonymizer = run_or_fail(lambda: shop_pseudonymizer(home, config_of(ctx).privacy.raw_ids)) if raw_id else None
    st = open_existing(url)
    try:
        done = run_or_fail(lambda: lift(st, user, pseudonymizer))  # type: ignore[arg-type]
    finally:
        st.close()
    if not done.get("users"):
        fail(f"{user!r} has no erasure to lift in {url} (never erased, or lifted already); nothing changed.")
    console.print(f"lifted in {url}: the tombstones of 1 user and {done.get('sessions', 0):,} sessions; their new "
                  "events are stored again")


@users_app.command("token")
def token(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="The shopper's id as the shop knows it."),
    ttl: float = typer.Option(3600.0, "--ttl", min=1, help="Seconds the token is valid."),
    home: Path = home_option(),
) -> None:
    """Print a shopper token: it lets its holder read this shopper's profile and recommendations, and
    no one else's, until it expires (for a shop backend to hand to its storefront)."""
    from shopsage.privacy.ids import Pseudonymizer

    home = home_of(ctx, home)
    ids = run_or_fail(lambda: Pseudonymizer.from_env(home))
    console.print(ids.issue_shopper_token(user, ttl), soft_wrap=True)  # type: ignore[attr-defined]
