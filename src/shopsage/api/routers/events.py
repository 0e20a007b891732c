"""``POST /v1/events``: one event or a batch, validated whole before anything is applied."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request

from shopsage.api.deps import service
from shopsage.api.schemas import MAX_BATCH, ErrorOut, EventBatch, EventIn, IngestResult
from shopsage.api.security import require_write
from shopsage.serving.service import Service

router = APIRouter(prefix="/v1", tags=["events"], dependencies=[Depends(require_write)])

_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}}


@router.post("/events", response_model=IngestResult, responses=_ERRORS)
async def post_events(
    request: Request,
    body: Annotated[EventIn | EventBatch, Body(description=f"One event, or {{\"events\": [...]}} with up to {MAX_BATCH}.")],
    svc: Annotated[Service, Depends(service)],
    idempotency_key: Annotated[str | None, Header(max_length=256, description="Replays of this key apply nothing.")] = None,
) -> IngestResult:
    """Record shopper events. Each updates the session and the user profile before the response;
    the next request reflects it. An event ``id`` seen before is counted as a duplicate."""
    events = [body] if isinstance(body, EventIn) else body.events
    validated = [e.to_event() for e in events]  # all or nothing: a bad event rejects the request
    result = IngestResult(**svc.ingest(validated, idempotency_key))
    request.app.state.metrics.events.inc(result.accepted)
    return result
