"""``GET /v1/recommendations/{scenario}``: the scenario's pipeline, every item with its reasons."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from shopsage.api.deps import service
from shopsage.api.responses import PreparedJSON
from shopsage.api.schemas import ErrorOut, RecResponse
from shopsage.api.security import require_read
from shopsage.errors import ValidationError
from shopsage.serving.service import Service

router = APIRouter(prefix="/v1", tags=["recommendations"], dependencies=[Depends(require_read)])

MAX_HISTORY = 50
"""Item ids one ``?history=`` may carry (a visit's recent views, not a whole history)."""

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
    history: Annotated[str | None, Query(description=f"Items viewed in this visit, oldest first, comma-separated "
                                         f"(at most {MAX_HISTORY} ids of 1-256 characters): for a storefront that "
                                         "keeps the session itself. They extend the session's history; unknown "
                                         "ids are left out.")] = None,
) -> PreparedJSON:
    """for_you (user and/or session; none: trending), similar_items / frequently_bought_together /
    also_viewed (item), next_in_session (session and/or history), trending."""
    ids = _history_ids(history)
    return PreparedJSON(svc.recommend(scenario, user, session, item, n, ids))  # RecResponse: its schema, not re-validated


def _history_ids(history: str | None) -> list[str] | None:
    """The ids of ``?history=a,b,c``, refused when empty, too long or too many."""
    if history is None:
        return None
    ids = history.split(",")
    if len(ids) > MAX_HISTORY:
        raise ValidationError(f"history has {len(ids)} item ids, more than {MAX_HISTORY}: send the visit's "
                              f"{MAX_HISTORY} most recent items (oldest first)")
    bad = [i for i, x in enumerate(ids) if not 1 <= len(x) <= 256]
    if bad:
        raise ValidationError(f"history's ids at positions {bad[:10]} are empty or longer than 256 characters: send "
                              "item ids separated by single commas, e.g. ?history=sku1,sku2")
    return ids
