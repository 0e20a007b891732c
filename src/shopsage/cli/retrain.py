"""``shopsage models retrain [NAME...]``: challenger against champion on the fresh tail, promote if it wins.

Thin: options -> :class:`~shopsage.training.retrain.RetrainConfig` -> :func:`~shopsage.training.retrain.retrain`
per model; the decision is printed and recorded in ``<home>/models/retrain.jsonl``. Cron runs it as
is; ``shopsage serve --retrain-every-events N`` runs it in a subprocess at low priority.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from shopsage.cli.console import console, fail, json_object, run_or_fail
from shopsage.cli.data_commands import home_option

__all__ = ["retrain_command", "retrainable"]


def retrainable(reg: object) -> list[str]:
    """The live recommenders of a registry (what the service serves from it)."""
    out = []
    for name in reg.names():  # type: ignore[attr-defined]
        cur = reg.current(name)  # type: ignore[attr-defined]
        if cur is not None and str(cur.manifest.get("kind", "")).startswith("recommender/"):
            out.append(name)
    return out


def retrain_command(
    ctx: typer.Context,
    names: list[str] = typer.Argument(None, help="Models to retrain (default: every live recommender)."),
    store: str = typer.Option(None, "--store", help="Store URL to learn from (default: the configured store)."),
    home: Path = home_option(),
    tail_fraction: float = typer.Option(0.5, "--tail-fraction", help="Share of the events stored since the "
                                        "champion's data that is held out to judge both."),
    first_tail_fraction: float = typer.Option(0.1, "--first-tail-fraction", help="Share of all events held out "
                                              "when the champion does not record what it read."),
    min_new_events: int = typer.Option(50, "--min-new-events", help="Skip when fewer events arrived since."),
    metric: str = typer.Option(None, "--metric", help="Gate metric (default: mrr@20 for sessions, ndcg@10 for users)."),
    params: str = typer.Option(None, "--params", help="JSON of the challenger's hyperparameters (default: the "
                               "champion's)."),
    max_test_cases: int = typer.Option(20000, "--max-test-cases", help="Score a seeded sample of the tail."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Register and record the challenger; promote nothing."),
    nice: int = typer.Option(0, "--nice", min=0, max=19, help="Lower this process's priority (a retrain beside "
                             "a serving process)."),
) -> None:
    """Train a challenger on the latest data; promote it only when it beats the live version on the same
    fresh held-out tail (the previous version stays for rollback); record the decision."""
    from pydantic import ValidationError as ConfigInvalid

    from shopsage.cli.data_commands import default_store, home_of, open_existing
    from shopsage.registry import ModelRegistry
    from shopsage.training.retrain import RetrainConfig, retrain

    if nice:
        os.nice(nice)
    try:
        cfg = RetrainConfig(tail_fraction=tail_fraction, first_tail_fraction=first_tail_fraction,
                            min_new_events=min_new_events, metric=metric, max_test_cases=max_test_cases,
                            promote=not dry_run,
                            params=run_or_fail(lambda: json_object(params, "--params", '{"neighbors": 50}')))  # type: ignore[arg-type]
    except ConfigInvalid as exc:
        fail(f"invalid retrain options: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
    reg = ModelRegistry(home_of(ctx, home) / "models")
    todo = list(names or retrainable(reg))
    if not todo:
        fail(f"no live recommender in {reg.root}: train one first (shopsage models train itemknn --promote)")
    db = open_existing(store or default_store(ctx, home))
    try:
        for name in todo:
            d = run_or_fail(lambda name=name: retrain(db, reg, name, cfg, say=console.print))  # type: ignore[misc]
            mine = d.challenger_metrics.get(d.metric or "", None)  # type: ignore[attr-defined]
            theirs = d.champion_metrics.get(d.metric or "", None)  # type: ignore[attr-defined]
            figures = f" ({d.metric}: challenger {mine:.4f}, champion {theirs:.4f})" \
                if mine is not None and theirs is not None else ""  # type: ignore[attr-defined]
            console.print(f"[bold]{name}[/]: {d.outcome}{figures} in {d.seconds:.1f} s")  # type: ignore[attr-defined]
    finally:
        db.close()  # type: ignore[attr-defined]
