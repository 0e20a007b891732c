"""The storefront (``/``) and the merchant dashboard (``/admin``): server-rendered pages over the service.

Thin like ``api/``: each route parses the request, calls the :class:`~shopsage.serving.service.Service`
or the library (registry, rule book, search analytics) and renders a Jinja2 template. :func:`install`
adds both to an app; ``shopsage serve`` (``api/app.py``) calls it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

__all__ = ["install", "STATIC_DIR"]

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the storefront, the dashboard and their static files (``/static/web``) on ``app``."""
    from shopsage.web import admin, storefront

    app.include_router(storefront.router)
    app.include_router(admin.router)
    app.mount("/static/web", StaticFiles(directory=STATIC_DIR), name="web-static")
