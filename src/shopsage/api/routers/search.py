"""``GET /v1/search``: the search front door over HTTP (filters, facets, sort, pages, mode, personalization)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shopsage.api.deps import service
from shopsage.api.responses import PreparedJSON
from shopsage.api.schemas import ErrorOut, SearchOut
from shopsage.api.security import require_read
from shopsage.errors import ValidationError
from shopsage.search import ModeChoice
from shopsage.serving.search import SearchRequest, Sort
from shopsage.serving.service import Service

router = APIRouter(prefix="/v1", tags=["search"], dependencies=[Depends(require_read)])


@router.get("/search", response_model=SearchOut, responses={422: {"model": ErrorOut}})
async def search(
    svc: Annotated[Service, Depends(service)],
    q: Annotated[str, Query(min_length=1, max_length=500, description="The shopper's query.")],
    category: Annotated[list[str], Query(max_length=20, description="Keep items in any of these categories.")] = [],  # noqa: B006
    brand: Annotated[list[str], Query(max_length=20, description="Keep items of any of these brands.")] = [],  # noqa: B006
    price_min: Annotated[float | None, Query(ge=0, le=1e12)] = None,
    price_max: Annotated[float | None, Query(ge=0, le=1e12)] = None,
    in_stock: Annotated[bool, Query(description="Only items in stock.")] = False,
    sort: Sort = "relevance",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Annotated[ModeChoice | None, Query(description="lexical, vector, hybrid, learned or auto (the best the "
                                             "service can serve); default: the search scenario's mode. A mode the "
                                             "service cannot serve (no encoder, no live ranker) answers 422.")] = None,
    user: Annotated[str | None, Query(min_length=1, max_length=256, description="Personalize for this user.")] = None,
    session: Annotated[str | None, Query(min_length=1, max_length=256, description="Personalize for this session.")] = None,
) -> PreparedJSON:
    if price_min is not None and price_max is not None and price_min > price_max:
        raise ValidationError(f"price_min {price_min} is above price_max {price_max}: swap them")
    req = SearchRequest(q, categories=tuple(category), brands=tuple(brand), price_min=price_min, price_max=price_max,
                        in_stock=in_stock, sort=sort, page=page, per_page=per_page, mode=mode, user=user, session=session)
    return PreparedJSON(svc.search(req))  # SearchOut: its schema, not re-validated
