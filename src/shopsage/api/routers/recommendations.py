"""``GET /v1/recommendations/{scenario}``: the scenario's pipeline, every item with its reasons."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from shopsage.api.deps import service
from shopsage.api.responses import PreparedJSON
from shopsage.api.schemas import ErrorOut, RecResponse
from shopsage.api.security import require_read
from shopsage.serving.service import Service

router = APIRouter(prefix="/v1", tags=["recommendations"], dependencies=[Depends(require_read)])

Scenario = Literal["for_you", "similar_items", "frequently_bought_together", "next_in_session", "trending", "also_viewed"]


@router.get("/recommendations/{scenario}", response_model=RecResponse,
            responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}})
async def recommendations(
    scenario: Scenario,
    svc: Annotated[Service, Depends(service)],
    user: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    session: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    item: Annotated[str | None, Query(min_length=1, max_length=256,
                                      description="The page's item (similar_items, frequently_bought_together, also_viewed).")] = None,
    n: Annotated[int, Query(ge=1, le=100)] = 10,
) -> PreparedJSON:
    """for_you (user and/or session; none: trending), similar_items / frequently_bought_together /
    also_viewed (item), next_in_session (session), trending."""
    return PreparedJSON(svc.recommend(scenario, user, session, item, n))  # RecResponse: its schema, not re-validated
