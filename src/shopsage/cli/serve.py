"""``shopsage serve``: the HTTP service (uvicorn), and the serving half of ``shopsage demo``."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import typer

from shopsage.cli.console import console, err_console, fail, progress_bar, run_or_fail
from shopsage.cli.data_commands import STORE_HELP, config_of, default_store, home_of, home_option
from shopsage.config import PrivacyConfig
from shopsage.settings import get_settings

__all__ = ["serve", "run_server", "DEMO_MODELS"]

DEMO_MODELS = ("pop", "itemknn", "ease", "fbt", "sknn", "als")
"""Models ``shopsage demo`` trains when they are installed (each takes seconds on Amazon Scientific)."""


def _logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_server(store: str, state: str, host: str, port: int, workers: int, home: Path, pipelines: Path | None,
               access_log: bool = True, build: tuple[str, ...] | None = None, semantic: bool = False,
               encoder: str = "encoder", unknown_items: str = "quarantine", query_backend: str = "onnx",
               privacy: PrivacyConfig | None = None, retrain_every_events: int = 0,
               retrain_on_drift: bool = False, exposures: bool = True, freeze_heap: bool = True,
               request_retention_days: float = 7.0) -> None:
    """Check the keys against the address, build what is missing, then serve until interrupted."""
    import uvicorn

    from shopsage.api.app import OPTIONS_ENV, create_app
    from shopsage.api.security import LOOPBACK, Keys
    from shopsage.data.stores import open_store
    from shopsage.registry import ModelRegistry
    from shopsage.serving.build import BUILD_ON_START, build_missing
    from shopsage.serving.service import Service, ServiceOptions

    privacy = privacy or PrivacyConfig()
    if privacy.raw_ids:  # the config's switch reaches the API edge (and every worker) as $SHOPSAGE_RAW_IDS
        os.environ.setdefault("SHOPSAGE_RAW_IDS", "1")
    settings = get_settings()
    keys = Keys.from_settings(settings)  # write, read and admin keys
    if keys.open and host not in LOOPBACK:
        fail(f"no API keys are configured, so the service may only listen on 127.0.0.1, not {host}. "
             "Set SHOPSAGE_API_KEYS (and optionally SHOPSAGE_READ_KEYS), or leave --host at 127.0.0.1.")
    if keys.open:
        err_console.print("[bold yellow]open:[/] no API keys configured (SHOPSAGE_API_KEYS): anyone on this machine "
                          "may read and write; listening on 127.0.0.1 only.")
    else:
        err_console.print(f"API keys: {len(keys.write)} write, {len(keys.read)} read"
                          + ("" if keys.read else "; reads are open (set SHOPSAGE_READ_KEYS to protect them)"))
    if workers > 1 and (retrain_every_events or retrain_on_drift):
        fail("--retrain-every-events and --retrain-on-drift need --workers 1 (each worker would start its own "
             "retrain); with several workers run `shopsage models retrain` from cron")
    if workers > 1 and state.startswith("memory"):
        err_console.print("[yellow]warning:[/] with --workers > 1 and the in-process state each worker keeps its own "
                          "sessions; use --state redis://127.0.0.1:6379/0 to share them.")
    _logging("info" if access_log else "warning")
    say = err_console.print
    err_console.print(f"home {home}: store {store}, models {home / 'models'}")
    st = run_or_fail(lambda: open_store(store))
    with progress_bar() as progress:
        run_or_fail(lambda: build_missing(st, ModelRegistry(home / "models"), build or BUILD_ON_START,  # type: ignore[arg-type]
                                          say=say, progress=progress))
    st.close()  # type: ignore[attr-defined]
    opts = ServiceOptions(store_url=store, state_url=state, home=home, pipelines=pipelines, build_on_start=False,
                          semantic=semantic, encoder=encoder, unknown_items=unknown_items,  # type: ignore[arg-type]
                          query_backend=query_backend, privacy=privacy,  # type: ignore[arg-type]
                          retrain_every_events=retrain_every_events, retrain_on_drift=retrain_on_drift,
                          exposures=exposures, freeze_heap=freeze_heap, request_retention_days=request_retention_days)
    if workers == 1:
        with progress_bar() as progress:
            svc = run_or_fail(lambda: Service(opts, say=say).start(progress))
        app = create_app(svc, keys, close_service=True)  # type: ignore[arg-type]
        console.print(f"ShopSage on http://{host}:{port}: the storefront; dashboard http://{host}:{port}/admin, "
                      f"API docs http://{host}:{port}/docs")
        # the app's lifespan closes the service at shutdown (queued exposures written, bandits saved)
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
        return
    os.environ[OPTIONS_ENV] = json.dumps({"store_url": store, "state_url": state, "home": str(home),
                                          "pipelines": str(pipelines) if pipelines else None,
                                          "semantic": semantic, "encoder": encoder, "unknown_items": unknown_items,
                                          "query_backend": query_backend, "privacy": privacy.model_dump(mode="json"),
                                          "exposures": exposures, "freeze_heap": freeze_heap,
                                          "request_retention_days": request_retention_days})
    console.print(f"ShopSage on http://{host}:{port} with {workers} workers: the storefront; dashboard "
                  f"http://{host}:{port}/admin, API docs http://{host}:{port}/docs")
    uvicorn.run("shopsage.api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_level="warning")


def serve(
    ctx: typer.Context,
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    state: str = typer.Option("memory://", "--state", help="memory:// (in-process) or redis://127.0.0.1:6379/0 (shared by workers)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (other than loopback only with API keys)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="uvicorn worker processes."),
    home: Path = home_option(),
    pipelines: Path = typer.Option(None, "--pipelines", help="Scenario pipelines TOML (default: config/pipelines.toml's built-in equal)."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log method, route, status, time (no ids)."),
    semantic: bool = typer.Option(False, "--semantic/--no-semantic",
                                  help="Embed the catalogue with the text encoder (the live version of --encoder in the "
                                  "registry, else all-MiniLM-L6-v2): the 'semantic' generator and the search fallback "
                                  "for queries that match no word. A promoted version goes live without a restart."),
    encoder: str = typer.Option("encoder", "--encoder", help="Registry name of the text encoder (shopsage models finetune)."),
    unknown_items: str = typer.Option("quarantine", "--unknown-items", help="A live event naming an item not in the "
                                      "catalogue: quarantine (kept with its reason), reject (422) or accept (creates a "
                                      "placeholder item)."),
    query_backend: str = typer.Option("onnx", "--query-backend", help="--semantic: encode search queries with onnx "
                                      "(onnxruntime, the same vectors, faster) or torch."),
    retrain_every_events: int = typer.Option(0, "--retrain-every-events", min=0, help="Run `shopsage models retrain` "
                                             "(a low-priority child) after this many new events; 0: never (cron may)."),
    retrain_on_drift: bool = typer.Option(False, "--retrain-on-drift/--no-retrain-on-drift", help="... or when a drift "
                                          "monitor (/metrics shopsage_drift) is over its threshold."),
    exposures: bool = typer.Option(True, "--exposures/--no-exposures", help="Record each answer's shown items "
                                   "(query_id / recomm_id, positions) for attribution, experiments and off-policy "
                                   "evaluation; --no-exposures turns that off (an answer still carries its id)."),
    freeze_heap: bool = typer.Option(True, "--freeze-heap/--no-freeze-heap", help="Once started, exclude what was "
                                     "loaded (models, catalogue, histories) from the garbage collector's full "
                                     "passes (gc.freeze): a full pass over them paused every request in flight "
                                     "for 300 ms on Amazon Scientific (/metrics shopsage_gc_pause_seconds)."),
) -> None:
    """Serve search and recommendations over HTTP; builds the BM25 index, popularity and item-kNN when missing."""
    home = home_of(ctx, home)
    if config_of(ctx).experiments:  # the config's [[experiments]] the store does not hold yet
        from shopsage.cli.experiments import seed_declared

        seed_declared(store or default_store(ctx, home), config_of(ctx).experiments)
    run_server(store or default_store(ctx, home), state, host, port, workers, home, pipelines, access_log,
               semantic=semantic, encoder=encoder, unknown_items=unknown_items, query_backend=query_backend,
               privacy=config_of(ctx).privacy, retrain_every_events=retrain_every_events,
               retrain_on_drift=retrain_on_drift, exposures=exposures, freeze_heap=freeze_heap,
               request_retention_days=config_of(ctx).store.request_retention_days)
