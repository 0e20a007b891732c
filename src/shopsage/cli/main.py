"""The ``shopsage`` command."""

from __future__ import annotations

from pathlib import Path

import typer

from shopsage import __version__
from shopsage.cli import data_commands
from shopsage.cli.bench import bench_app
from shopsage.cli.console import console, run_or_fail
from shopsage.cli.models import models_app
from shopsage.cli.serve import DEMO_MODELS, run_server, serve
from shopsage.config import load_config
from shopsage.data.importers import get_importer, run_import
from shopsage.data.stores import open_store

__all__ = ["app"]

app = typer.Typer(name="shopsage", help="ShopSage: search and recommendations for online shops.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
data_commands.register(app)


@app.callback()
def main(
    ctx: typer.Context,
    config: Path = typer.Option(None, "--config", envvar="SHOPSAGE_CONFIG",
                                help="TOML configuration (see config/shopsage.example.toml)."),
) -> None:
    """ShopSage: search and recommendations for online shops."""
    ctx.obj = run_or_fail(lambda: load_config(config))
app.add_typer(bench_app, name="bench")
app.add_typer(models_app, name="models")
app.command("serve")(serve)

DEMO_SETS = [
    ("scientific", "recbole", "amazon-scientific"),
    ("homedepot", "homedepot", "homedepot"),
]


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
def demo(
    data: Path = typer.Option(Path("../shared/data"), "--data", help="Folder with the shared data sets."),
    home: Path = typer.Option(Path("var"), "--home", help="Folder for the demo stores and models."),
    dataset: str = typer.Option("scientific", "--dataset", help=f"One of: {', '.join(s for s, _, _ in DEMO_SETS)}."),
    do_serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve on http://127.0.0.1:PORT afterwards."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
) -> None:
    """Import a real data set (Amazon Scientific by default) into var/, train the available models, serve it."""
    from shopsage.serving.build import build_missing
    from shopsage.registry import ModelRegistry

    sets = {shop: (fmt, folder) for shop, fmt, folder in DEMO_SETS}
    if dataset not in sets:
        raise typer.BadParameter(f"unknown data set {dataset!r}; use one of {', '.join(sets)}", param_hint="--dataset")
    fmt, folder = sets[dataset]
    url = f"sqlite:///{home / (dataset + '.db')}"
    store = run_or_fail(lambda: open_store(url))
    importer = run_or_fail(lambda: get_importer(fmt, str(data / folder)))
    summary = run_or_fail(lambda: run_import(store, importer))  # type: ignore[arg-type]
    console.print(f"[bold]{dataset}[/]: read {summary.read:,} = accepted {summary.accepted:,} "  # type: ignore[attr-defined]
                  f"+ already present {summary.already_present:,} + quarantined {summary.quarantined:,}")  # type: ignore[attr-defined]
    console.print(data_commands.stats_table(store.stats(), url))  # type: ignore[attr-defined]
    registry = ModelRegistry(home / dataset / "models")
    built = run_or_fail(lambda: build_missing(store, registry, DEMO_MODELS, say=console.print))  # type: ignore[arg-type]
    console.print(f"models trained: {', '.join(built) or 'none (already in the registry)'}")  # type: ignore[arg-type]
    store.close()  # type: ignore[attr-defined]
    if do_serve:
        run_server(url, "memory://", "127.0.0.1", port, 1, home / dataset, None, semantic=True)

if __name__ == "__main__":  # pragma: no cover
    app()
