"""Health, readiness, Prometheus metrics and the admin model reload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from shopsage.api.deps import service
from shopsage.api.schemas import Health, Ready
from shopsage.api.security import require_write
from shopsage.serving.service import Service

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The process is up (it may still be starting: see /ready)."""
    return Health(status="ok")


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready}})
async def ready(request: Request, response: Response) -> Ready:
    """Ready to answer: started, state reachable, catalogue and models loaded."""
    svc: Service | None = getattr(request.app.state, "service", None)
    info: dict[str, Any] = svc.ready() if svc is not None else {"ready": False, "state": False, "items": 0, "models": {}}
    if not info["ready"]:
        response.status_code = 503
    return Ready(**info)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    """Prometheus text format: request latency by route, events ingested, catalogue size."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    request.app.state.metrics.refresh(getattr(request.app.state, "service", None))
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/admin/reload", dependencies=[Depends(require_write)], tags=["admin"])
async def reload_models(svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    """Load every newly promoted model now (the service also checks every few seconds)."""
    return {"reloaded": svc.models.refresh(), **svc.models.describe()}
