"""Health, readiness, Prometheus metrics and the admin model reload."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from shopsage.api.deps import current
from shopsage.api.schemas import Health, Ready
from shopsage.api.security import require_admin
from shopsage.serving.service import Service

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The process is up (it may still be starting: see /ready). Answered on the event loop: no
    store or state work, so a slow write elsewhere never delays it."""
    return Health(status="ok")


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready}})
def ready(request: Request, response: Response) -> Ready:
    """Ready to answer: started, state reachable, catalogue and models loaded."""
    svc: Service | None = getattr(request.app.state, "service", None)
    info: dict[str, Any] = svc.ready() if svc is not None else {"ready": False, "state": False, "items": 0, "models": {}}
    if not info["ready"]:
        response.status_code = 503
    return Ready(**info)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text format: request latency by route, events ingested, catalogue size."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    request.app.state.metrics.refresh(getattr(request.app.state, "service", None))
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/admin/reload", dependencies=[Depends(require_admin)], tags=["admin"])
def reload_models(request: Request) -> dict[str, Any]:
    """Load every newly promoted model now (the service also checks every few seconds)."""
    svc = current(request)
    return {"reloaded": svc.models.refresh(), **svc.models.describe()}
