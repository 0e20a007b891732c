"""The FastAPI application: routers, the error handler, keys, limits, pseudonyms, metrics.

``create_app(service)`` serves a started or unstarted :class:`~shopsage.serving.service.Service`
(started in the lifespan when needed). ``app_from_env()`` is the factory uvicorn workers call:
it reads the service options from ``SHOPSAGE_SERVE_*`` variables set by ``shopsage serve``.

The layers a request passes, outermost first: ``ContainErrors`` (an escaped exception is logged
without values and answered 500), CORS (only when origins are configured), ``AccessLog`` (route
templates, never paths), ``RateLimit`` (429 with Retry-After), ``ReadTimeout`` (408 for a body that
does not arrive), ``BodyLimit`` (413), then the routes, which run in the thread pool.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI

from shopsage import __version__
from shopsage.api.errors import ContainErrors, install_error_handlers
from shopsage.api.gc_metrics import GcPauses
from shopsage.api.ratelimit import Buckets, Limits, MemoryBuckets, RateLimit, RedisBuckets
from shopsage.api.routers import events, experiments, items, ops, recommendations, search, users
from shopsage.api.routers import settings as index_settings
from shopsage.api.security import AccessLog, BodyLimit, Keys, ReadTimeout
from shopsage.config import PrivacyConfig
from shopsage.privacy.ids import Pseudonymizer
from shopsage.serving.service import Service, ServiceOptions
from shopsage.settings import Settings, get_settings

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
        self.drift = Gauge("shopsage_drift", "Drift monitors on the event stream (serving/drift.py): event_mix and "
                           "popularity (Jensen-Shannon between the last two windows), ctr and ctr_drop, "
                           "new_item_embedding", ["monitor"], registry=self.registry)
        self.drift_over = Gauge("shopsage_drift_over_threshold", "Drift monitors over their threshold (retraining "
                                "starts when retrain_on_drift)", registry=self.registry)
        self.retrains = Gauge("shopsage_retrains_started", "Retrain children this process started", registry=self.registry)
        self.gc = GcPauses()
        self.registry.register(self.gc)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status)).observe(seconds)

    def refresh(self, svc: Service | None) -> None:
        if svc is not None:
            self.items.set(len(svc.catalog))
            self.models.set(len(svc.models.models))
            drift = getattr(svc, "drift", None)
            if drift is not None:
                for monitor, value in drift.report().items():
                    self.drift.labels(monitor).set(value)
                self.drift_over.set(len(drift.over()))
                self.retrains.set(svc.retraining.started)


def create_app(svc: Service, keys: Keys | None = None, max_body_bytes: int = MAX_BODY_BYTES, *,
               settings: Settings | None = None, ids: Pseudonymizer | None = None,
               buckets: Buckets | None = None, close_service: bool = False) -> FastAPI:
    """The app over ``svc``. ``settings`` (default: the environment's) give the keys unless ``keys`` is
    given, the rate limits, read timeout and CORS origins; ``ids`` is the edge's pseudonymizer (default:
    :meth:`Pseudonymizer.from_env` with the service's home); ``buckets`` the rate limit's (default:
    Redis when the state is Redis, else in-process). A service the app starts is closed at shutdown;
    ``close_service`` closes one the caller started too (``shopsage serve``: uvicorn re-raises SIGTERM
    after its shutdown, so code after ``uvicorn.run`` never runs and the lifespan is the last chance
    to write the queued exposures)."""
    settings = settings if settings is not None else get_settings()
    keys = keys if keys is not None else Keys.from_settings(settings)
    ids = ids if ids is not None else Pseudonymizer.from_env(Path(svc.options.home))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the routes are plain functions run in this worker's thread pool, so the event loop (and /health)
        # never waits on the store; their numpy/torch work holds the GIL, so threads beyond one only compete
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        owned = not svc.started or close_service  # else a service started by the caller is closed by the caller
        if not svc.started:
            svc.start()
        if svc.options.freeze_heap:
            log.info("garbage collector: %d objects loaded at start frozen", svc.freeze_heap())
        app.state.metrics.gc.install()
        yield
        app.state.metrics.gc.uninstall()
        if owned:
            svc.close()

    app = FastAPI(title="ShopSage", version=__version__, lifespan=lifespan,
                  description="Search and recommendations for online shops. Every recommended item carries its reasons.")
    app.state.service = svc
    app.state.keys = keys
    app.state.ids = ids
    app.state.shared_state = not svc.state.url.startswith("memory")
    app.state.metrics = Metrics()
    install_error_handlers(app)
    for r in (events.router, search.router, recommendations.router, items.router, users.router, ops.router,
              index_settings.router, experiments.router):
        app.include_router(r)
    from shopsage.web import install as install_web

    install_web(app)  # the storefront (/) and the merchant dashboard (/admin)
    # added innermost first
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(ReadTimeout, timeout_s=settings.read_timeout)
    limits = Limits(settings.rate_limit_key, settings.rate_limit_address, settings.rate_burst)
    if limits.on:
        if buckets is None:
            buckets = MemoryBuckets() if svc.state.url.startswith("memory") else RedisBuckets(svc.state.url)
        app.add_middleware(RateLimit, limits=limits, buckets=buckets, secret=ids.bucket_secret)
    app.add_middleware(AccessLog, observe=app.state.metrics.observe)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "X-Shopper-Token", "Content-Type",
                                          "Idempotency-Key"],
                           expose_headers=["Retry-After", "X-Worker"], max_age=600)
    app.add_middleware(ContainErrors)
    return app


def app_from_env() -> FastAPI:
    """The app of one uvicorn worker: options from ``SHOPSAGE_SERVE_OPTIONS`` (JSON), started in the lifespan."""
    raw: dict[str, Any] = json.loads(os.environ.get(OPTIONS_ENV, "{}"))
    if raw.get("pipelines"):
        raw["pipelines"] = Path(raw["pipelines"])
    if raw.get("home"):
        raw["home"] = Path(raw["home"])
    if raw.get("privacy") is not None:
        raw["privacy"] = PrivacyConfig.model_validate(raw["privacy"])
    opts = ServiceOptions(**raw)
    opts.build_on_start = False  # the parent process built what was missing before starting the workers
    return create_app(Service(opts, say=lambda m: log.info("%s", m)))
