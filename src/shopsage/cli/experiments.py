"""``shopsage experiments create|list|stop|report``: A/B tests in the shop's store (thin: parse, call, print)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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

__all__ = ["experiments_app"]

experiments_app = typer.Typer(help="A/B tests: create, list, stop, report (JSON, Markdown and a plot).",
                              no_args_is_help=True)


def _read_definition(path: Path) -> dict[str, Any]:
    from shopsage.config import read_toml

    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            fail(f"cannot read {path} as JSON: {exc}")
        if not isinstance(data, dict):
            fail(f"{path} holds no JSON object: write one experiment's keys (see docs/architecture.md, Experiments)")
        return data
    return run_or_fail(lambda: read_toml(path, "the experiment"))  # type: ignore[return-value]


@experiments_app.command("create")
def create(
    ctx: typer.Context,
    file: Path = typer.Argument(None, help="The experiment as TOML or JSON (name, scope, variants, metric...); "
                                "without it, the config's [[experiments]] the store does not hold yet are created."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    home: Path = home_option(),
    allocation: str = typer.Option(None, "--allocation", help="split (a salted hash, in proportion to the weights) "
                                   "or bandit (a contextual bandit per request; its settings under [bandit] in the "
                                   "file); overrides the file's allocation."),
) -> None:
    """Create a running experiment (its sample size planned unless planned_units is given or it is a bandit's)."""
    from shopsage.experiments.book import create_experiment, parse_experiment, seed_experiments

    if allocation is not None and file is None:
        fail("--allocation needs the experiment's file (FILE); the config's [[experiments]] set allocation themselves")
    st = open_existing(store or default_store(ctx, home_of(ctx, home)))
    try:
        if file is None:
            made = run_or_fail(lambda: seed_experiments(st, config_of(ctx).experiments))  # type: ignore[arg-type]
            console.print(f"created from the config: {', '.join(made) or 'none (the store holds them all)'}")
            return
        data = _read_definition(file)
        if allocation is not None:
            data = {**data, "allocation": allocation}
        exp = run_or_fail(lambda: create_experiment(st, parse_experiment(data)))  # type: ignore[arg-type]
    finally:
        st.close()
    if exp.bandit is not None:
        b = exp.bandit
        console.print(f"experiment {exp.name} running on {exp.scope}: variants {', '.join(v.name for v in exp.variants)}"
                      f" allocated per request by a {b.policy} bandit (epsilon {b.epsilon}, reward {b.reward}, "
                      f"context {b.context}, refit every {b.refit_s:g} s)")
        return
    console.print(f"experiment {exp.name} running on {exp.scope}: variants "
                  f"{', '.join(f'{v.name} ({w:.0%})' for v, w in zip(exp.variants, exp.weights, strict=True))}; "
                  f"planned {exp.planned_units:,} units per variant for a {exp.min_lift:.0%} lift in {exp.metric}")


@experiments_app.command("list")
def list_(
    ctx: typer.Context,
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    home: Path = home_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the definitions as JSON."),
) -> None:
    """Every experiment of the store, oldest first."""
    from rich.table import Table

    from shopsage.experiments.book import list_experiments

    st = open_existing(store or default_store(ctx, home_of(ctx, home)))
    try:
        found = run_or_fail(lambda: list_experiments(st))  # type: ignore[arg-type]
    finally:
        st.close()
    if as_json:
        console.print_json(json.dumps([e.model_dump(mode="json") for e in found]))
        return
    table = Table("name", "scope", "status", "allocation", "variants", "metric", "planned units/variant")
    for e in found:
        how = e.allocation if e.bandit is None else f"bandit ({e.bandit.policy}, {e.bandit.reward})"
        table.add_row(e.name, e.scope, e.status, how, ", ".join(v.name for v in e.variants), e.metric,
                      f"{e.planned_units:,}" if e.planned_units else "-")
    console.print(table)


@experiments_app.command("stop")
def stop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The experiment's name."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    home: Path = home_option(),
) -> None:
    """Stop an experiment: its traffic is served the live configuration again (within 2 s on every worker)."""
    from shopsage.experiments.book import stop_experiment

    st = open_existing(store or default_store(ctx, home_of(ctx, home)))
    try:
        exp = run_or_fail(lambda: stop_experiment(st, name))  # type: ignore[arg-type]
    finally:
        st.close()
    console.print(f"experiment {exp.name} stopped; `shopsage experiments report {exp.name}` reads its results")


@experiments_app.command("report")
def report(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The experiment's name."),
    out: Path = typer.Option(None, "--out", help="Folder for NAME.json, NAME.md and NAME.png (default: "
                             "<home>/reports/experiments)."),
    peek_every: int = typer.Option(1000, "--peek-every", min=1, help="Sessions between two looks of the sequential test."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    home: Path = home_option(),
) -> None:
    """Per variant: click-through, add-to-cart and conversion rates, revenue per session with intervals;
    differences, lifts and p-values; the sample-ratio check; the sequential test's decision."""
    from shopsage.evaluate.abtest_report import experiment_report, markdown_report, write_experiment_report

    home = home_of(ctx, home)
    st = open_existing(store or default_store(ctx, home))
    try:
        r = run_or_fail(lambda: experiment_report(st, name, peek_every))  # type: ignore[arg-type]
    finally:
        st.close()
    paths = write_experiment_report(r, out or home / "reports" / "experiments")
    typer.echo(markdown_report(r))
    console.print("written: " + ", ".join(str(p) for p in paths.values()))


def seed_declared(url: str, declared: list[Any]) -> None:
    """Create the config's experiments the store at ``url`` does not hold yet (``shopsage serve`` at start)."""
    from shopsage.data.stores import open_store
    from shopsage.experiments.book import seed_experiments

    st = run_or_fail(lambda: open_store(url))
    try:
        made = run_or_fail(lambda: seed_experiments(st, declared))  # type: ignore[arg-type]
    finally:
        st.close()  # type: ignore[attr-defined]
    if made:
        console.print(f"experiments created from the config: {', '.join(made)}")
