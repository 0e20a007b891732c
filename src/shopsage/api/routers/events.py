"""``POST /v1/events``: one event or a batch, validated whole before anything is applied.

User and session ids are pseudonymised and queries scrubbed here, at the edge, before the service
sees them (:meth:`~shopsage.api.schemas.EventIn.to_event`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request

from shopsage.api.deps import current, ids
from shopsage.api.schemas import MAX_BATCH, ErrorOut, EventBatch, EventIn, IngestResult
from shopsage.api.security import require_write

router = APIRouter(prefix="/v1", tags=["events"], dependencies=[Depends(require_write)])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 408: {"model": ErrorOut}, 409: {"model": ErrorOut},
    413: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}}


@router.post("/events", response_model=IngestResult, responses=_ERRORS)
def post_events(
    request: Request,
    body: Annotated[EventIn | EventBatch, Body(description=f"One event, or {{\"events\": [...]}} with up to {MAX_BATCH}.")],
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=256, pattern=r"^[\x20-\x7e]+$",
                                                  description="Replays of this key apply nothing.")] = None,
) -> IngestResult:
    """Record shopper events. Each updates the session and the user profile before the response;
    the next request reflects it. An event ``id`` seen before is counted as a duplicate."""
    events = [body] if isinstance(body, EventIn) else body.events
    edge = ids(request)
    validated = [e.to_event(edge) for e in events]  # all or nothing: a bad event rejects the request
    stamped = [i for i, e in enumerate(events) if e.timestamp is None and e.ordinal is None]  # server's time
    result = IngestResult(**current(request).ingest(validated, idempotency_key, stamped))
    request.app.state.metrics.events.inc(result.accepted)
    return result
