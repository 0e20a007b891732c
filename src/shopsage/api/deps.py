"""Dependencies shared by the routers: the service of this process."""

from __future__ import annotations

from fastapi import Request

from shopsage.errors import StoreError
from shopsage.serving.service import Service

__all__ = ["service"]


async def service(request: Request) -> Service:
    """The process's service; with a shared state it first applies other workers' item changes."""
    svc: Service | None = getattr(request.app.state, "service", None)
    if svc is None or not svc.started:
        raise StoreError("the service is still starting: retry in a moment (GET /ready says when it is ready)")
    if request.app.state.shared_state:
        svc.sync()
    return svc
