"""The ``shopsage`` command."""

from __future__ import annotations

from pathlib import Path

import typer

from shopsage import __version__
from shopsage.cli import data_commands
from shopsage.cli.bench import bench_app
from shopsage.cli.console import console, fail, progress_bar, run_or_fail
from shopsage.cli.data_commands import (
    STORE_HELP,
    config_of,
    default_store,
    home_of,
    home_option,
    import_shown,
)
from shopsage.cli.experiments import experiments_app
from shopsage.cli.export_commands import export_app
from shopsage.cli.forecast import forecast_command
from shopsage.cli.models import models_app
from shopsage.cli.privacy import privacy_app
from shopsage.cli.segments import segments_app
from shopsage.cli.serve import DEMO_MODELS, run_server, serve
from shopsage.cli.store import store_app
from shopsage.cli.users import users_app
from shopsage.config import load_config
from shopsage.data.importers import Importer, get_importer
from shopsage.data.stores import Store, open_store
from shopsage.privacy.imports import private_importer

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
app.add_typer(users_app, name="users")
app.add_typer(store_app, name="store")
app.add_typer(segments_app, name="segments")
app.add_typer(privacy_app, name="privacy")
app.add_typer(experiments_app, name="experiments")
app.add_typer(export_app, name="export")
app.command("serve")(serve)
app.command("forecast")(forecast_command)

DEMO_SETS = [
    ("scientific", "recbole", "amazon-scientific"),
    ("homedepot", "homedepot", "homedepot"),
]


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def _other_demo(store: Store, dataset: str) -> str | None:
    """The path of another demo data set already imported into ``store``, if any (demos never mix)."""
    others = {(fmt, folder) for shop, fmt, folder in DEMO_SETS if shop != dataset}
    return next((path for fmt, path in store.imports() if (fmt, Path(path).name) in others), None)


@app.command()
def demo(
    ctx: typer.Context,
    data: Path = typer.Option(None, "--data", help="Folder with the shared data sets (default: $SHOPSAGE_DATA_DIR, "
                              "the config's paths.data_dir, else ../shared/data)."),
    home: Path = home_option(),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    dataset: str = typer.Option("scientific", "--dataset", help=f"One of: {', '.join(s for s, _, _ in DEMO_SETS)}."),
    do_serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve on http://127.0.0.1:PORT afterwards."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
) -> None:
    """Import a real data set (Amazon Scientific by default) into the home's store, train the available
    models into its registry, serve it. Afterwards `shopsage models list`, `stats` and `serve` with the
    same home (default var) find the demo's store and models."""
    from shopsage.registry import ModelRegistry
    from shopsage.serving.build import build_missing

    sets = {shop: (fmt, folder) for shop, fmt, folder in DEMO_SETS}
    if dataset not in sets:
        raise typer.BadParameter(f"unknown data set {dataset!r}; use one of {', '.join(sets)}", param_hint="--dataset")
    fmt, folder = sets[dataset]
    home = home_of(ctx, home)
    data = data or config_of(ctx).paths.data_dir
    url = store or default_store(ctx, home)
    importer: Importer = run_or_fail(lambda: private_importer(get_importer(fmt, str(data / folder)), home,  # type: ignore[assignment]
                                                              config_of(ctx).privacy.raw_ids))
    st: Store = run_or_fail(lambda: open_store(url))  # type: ignore[assignment]
    other = _other_demo(st, dataset)
    if other is not None:
        st.close()
        fail(f"{url} already holds another demo data set ({other}); demos do not mix in one store. "
             f"Give this one a home of its own: shopsage demo --dataset {dataset} --home {home / dataset}")
    summary = import_shown(st, importer, f"import {dataset} (rows read)")
    console.print(f"[bold]{dataset}[/]: read {summary.read:,} = accepted {summary.accepted:,} "
                  f"+ already present {summary.already_present:,} + quarantined {summary.quarantined:,}")
    console.print(data_commands.stats_table(st.stats(), url))
    with progress_bar() as progress:
        built = run_or_fail(lambda: build_missing(st, ModelRegistry(home / "models"), DEMO_MODELS,
                                                  say=console.print, progress=progress))
    console.print(f"models trained: {', '.join(built) or 'none (already in the registry)'}")  # type: ignore[arg-type]
    console.print("for_you ranks by rank fusion until its learned ranking stage is trained (minutes; +2.5-2.7% "
                  "NDCG@10 over rank fusion measured, docs/benchmarks.md): shopsage models train ranker --scenario "
                  "for_you --promote")
    env = "" if home == home_of(ctx) else f"SHOPSAGE_HOME={home} "
    at = f" --store {url}" if store else ""
    console.print(f"home {home}: store {url}, models {home / 'models'}; see them with `{env}shopsage stats{at}` and "
                  f"`{env}shopsage models list`, serve them again with `{env}shopsage serve --semantic{at}`")
    st.close()
    if do_serve:
        run_server(url, "memory://", "127.0.0.1", port, 1, home, None, semantic=True, privacy=config_of(ctx).privacy)


if __name__ == "__main__":  # pragma: no cover
    app()
