"""The FastAPI application: routers, the error handler, keys, size limits, metrics.

``create_app(service)`` serves a started or unstarted :class:`~shopsage.serving.service.Service`
(started in the lifespan when needed). ``app_from_env()`` is the factory uvicorn workers call:
it reads the service options from ``SHOPSAGE_SERVE_*`` variables set by ``shopsage serve``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shopsage import __version__
from shopsage.api.errors import install_error_handlers
from shopsage.api.routers import events, items, ops, recommendations, search, users
from shopsage.api.security import AccessLog, BodyLimit, Keys
from shopsage.serving.service import Service, ServiceOptions
from shopsage.settings import get_settings

__all__ = ["create_app", "app_from_env", "Metrics", "OPTIONS_ENV", "MAX_BODY_BYTES"]

OPTIONS_ENV = "SHOPSAGE_SERVE_OPTIONS"
MAX_BODY_BYTES = 1 << 20
"""Largest request body (1 MiB): about 2,000 events."""

log = logging.getLogger("shopsage.api")


class Metrics:
    """Prometheus collectors of one app (own registry: several apps in one process do not clash)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.latency = Histogram("shopsage_request_seconds", "Request latency by route", ["method", "route", "status"],
                                 registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.04, 0.06, 0.1, 0.25, 0.5, 1.0, 2.5))
        self.events = Counter("shopsage_events_total", "Events accepted", registry=self.registry)
        self.items = Gauge("shopsage_catalog_items", "Live items in the catalogue", registry=self.registry)
        self.models = Gauge("shopsage_models_loaded", "Models loaded from the registry", registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status)).observe(seconds)

    def refresh(self, svc: Service | None) -> None:
        if svc is not None:
            self.items.set(len(svc.catalog))
            self.models.set(len(svc.models.models))


def create_app(svc: Service, keys: Keys | None = None, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    keys = keys if keys is not None else _keys_from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = not svc.started  # a service started by the caller is closed by the caller
        if owned:
            svc.start()
        yield
        if owned:
            svc.close()

    app = FastAPI(title="ShopSage", version=__version__, lifespan=lifespan,
                  description="Search and recommendations for online shops. Every recommended item carries its reasons.")
    app.state.service = svc
    app.state.keys = keys
    app.state.shared_state = not svc.state.url.startswith("memory")
    app.state.metrics = Metrics()
    install_error_handlers(app)
    for r in (events.router, search.router, recommendations.router, items.router, users.router, ops.router):
        app.include_router(r)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(AccessLog, observe=app.state.metrics.observe)
    return app


def _keys_from_env() -> Keys:
    s = get_settings()
    return Keys(write=s.api_keys, read=s.read_keys)


def app_from_env() -> FastAPI:
    """The app of one uvicorn worker: options from ``SHOPSAGE_SERVE_OPTIONS`` (JSON), started in the lifespan."""
    raw: dict[str, Any] = json.loads(os.environ.get(OPTIONS_ENV, "{}"))
    if raw.get("pipelines"):
        raw["pipelines"] = Path(raw["pipelines"])
    if raw.get("home"):
        raw["home"] = Path(raw["home"])
    opts = ServiceOptions(**raw)
    opts.build_on_start = False  # the parent process built what was missing before starting the workers
    return create_app(Service(opts, say=lambda m: log.info("%s", m)))
