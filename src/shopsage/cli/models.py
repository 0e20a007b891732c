"""``shopsage models list|promote|rollback``: the model registry."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from shopsage.cli.console import console, run_or_fail
from shopsage.registry import ModelRegistry

__all__ = ["models_app"]

models_app = typer.Typer(help="Trained models: list versions, promote one, roll back.", no_args_is_help=True)


def _registry(ctx: typer.Context, root: Path | None) -> ModelRegistry:
    from shopsage.cli.data_commands import config_of

    return ModelRegistry(root if root is not None else config_of(ctx).paths.home / "models")


ROOT_HELP = "Registry folder (default: <home>/models, home from the config or $SHOPSAGE_HOME)."


@models_app.command("list")
def list_models(ctx: typer.Context, name: str = typer.Argument(None, help="Only this model."),
                root: Path = typer.Option(None, "--root", help=ROOT_HELP)) -> None:
    """Every version of every model, with its method, data fingerprint and metrics."""
    reg = _registry(ctx, root)
    table = Table("model", "version", "live", "kind", "method", "data", "metrics")
    for model in [name] if name else reg.names():
        for v in run_or_fail(lambda model=model: reg.versions(model)):  # type: ignore[union-attr]
            cfg = v.manifest.get("config", {})
            table.add_row(v.name, v.version, "*" if v.current else "", v.manifest.get("kind", ""),
                          str(cfg.get("method", "")), str(v.manifest.get("data_fingerprint", "")),
                          json.dumps(v.manifest.get("metrics", {}), sort_keys=True))
    console.print(table)


@models_app.command("promote")
def promote(ctx: typer.Context, name: str, version: str, root: Path = typer.Option(None, "--root", help=ROOT_HELP)) -> None:
    """Make VERSION of NAME the live model."""
    v = run_or_fail(lambda: _registry(ctx, root).promote(name, version))
    console.print(f"{name}: {v.version} is live")  # type: ignore[attr-defined]


@models_app.command("rollback")
def rollback(ctx: typer.Context, name: str, root: Path = typer.Option(None, "--root", help=ROOT_HELP)) -> None:
    """Return NAME to the version that was live before the current one."""
    v = run_or_fail(lambda: _registry(ctx, root).rollback(name))
    console.print(f"{name}: back to {v.version}")  # type: ignore[attr-defined]
