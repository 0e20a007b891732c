"""The ``shopsage`` command."""

from __future__ import annotations

from pathlib import Path

import typer

from shopsage import __version__
from shopsage.cli import data_commands
from shopsage.cli.bench import bench_app
from shopsage.cli.console import console, run_or_fail
from shopsage.cli.models import models_app
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
    home: Path = typer.Option(Path("var"), "--home", help="Folder for the demo stores."),
) -> None:
    """Import the Amazon Scientific and Home Depot data into var/ (one store per shop) and show their counts."""
    for shop, fmt, folder in DEMO_SETS:
        url = f"sqlite:///{home / (shop + '.db')}"
        store = run_or_fail(lambda url=url: open_store(url))
        importer = run_or_fail(lambda fmt=fmt, folder=folder: get_importer(fmt, str(data / folder)))
        summary = run_or_fail(lambda store=store, importer=importer: run_import(store, importer))  # type: ignore[arg-type]
        console.print(f"[bold]{shop}[/]: read {summary.read:,} = accepted {summary.accepted:,} "  # type: ignore[attr-defined]
                      f"+ already present {summary.already_present:,} + quarantined {summary.quarantined:,}")  # type: ignore[attr-defined]
        console.print(data_commands.stats_table(store.stats(), url))  # type: ignore[attr-defined]
        store.close()  # type: ignore[attr-defined]


if __name__ == "__main__":  # pragma: no cover
    app()
