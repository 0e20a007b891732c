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
ENGINE_HELP = ("Search engine root (a folder with CURRENT): re-embed the catalogue with the promoted encoder and "
               "swap the vector index atomically. Without it only the registry's live pointer moves.")
STORE_HELP = "Store URL whose items are re-embedded (default: the configured store)."


def _swap_engine(ctx: typer.Context, name: str, version: str | None, engine: Path, store_url: str | None,
                 cache: Path | None, root: Path | None) -> None:
    from shopsage.cli.data_commands import config_of, default_store
    from shopsage.data.stores import open_store
    from shopsage.finetune.publish import promote_encoder, rollback_encoder

    reg = _registry(ctx, root)
    store = run_or_fail(lambda: open_store(store_url or default_store(ctx)))
    rows = [row for _, row in store.items()]  # type: ignore[attr-defined]
    cache_dir = str(cache if cache is not None else config_of(ctx).paths.home / "cache" / "embeddings")
    log = console.print
    if version is None:
        run_or_fail(lambda: rollback_encoder(reg, name, engine, rows, cache_dir, log))
    else:
        run_or_fail(lambda: promote_encoder(reg, name, version, engine, rows, cache_dir, log))


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
def promote(ctx: typer.Context, name: str, version: str, root: Path = typer.Option(None, "--root", help=ROOT_HELP),
            engine: Path = typer.Option(None, "--engine", help=ENGINE_HELP),
            store: str = typer.Option(None, "--store", help=STORE_HELP),
            cache: Path = typer.Option(None, "--cache", help="Embedding cache folder (default: <home>/cache/embeddings).")) -> None:
    """Make VERSION of NAME the live model (with --engine: re-embed the catalogue and swap the index)."""
    if engine is not None:
        _swap_engine(ctx, name, version, engine, store, cache, root)
        return
    v = run_or_fail(lambda: _registry(ctx, root).promote(name, version))
    console.print(f"{name}: {v.version} is live")  # type: ignore[attr-defined]


@models_app.command("rollback")
def rollback(ctx: typer.Context, name: str, root: Path = typer.Option(None, "--root", help=ROOT_HELP),
             engine: Path = typer.Option(None, "--engine", help=ENGINE_HELP),
             store: str = typer.Option(None, "--store", help=STORE_HELP),
             cache: Path = typer.Option(None, "--cache", help="Embedding cache folder (default: <home>/cache/embeddings).")) -> None:
    """Return NAME to the version that was live before the current one (with --engine: its vectors too)."""
    if engine is not None:
        _swap_engine(ctx, name, None, engine, store, cache, root)
        return
    v = run_or_fail(lambda: _registry(ctx, root).rollback(name))
    console.print(f"{name}: back to {v.version}")  # type: ignore[attr-defined]
