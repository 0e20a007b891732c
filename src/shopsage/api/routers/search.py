"""``GET /v1/search``: the search front door over HTTP (filters, facets, sort, pages, mode, personalization).

The query is searched as typed and echoed to the caller only: the service neither stores nor logs it
(search events sent to ``POST /v1/events`` are stored scrubbed). ``user`` and ``session`` are
pseudonymised; personalising for a ``user`` needs a key or that user's shopper token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, Field

from shopsage.api.deps import current, ids
from shopsage.api.responses import PreparedJSON
from shopsage.api.routers.recommendations import SessionId, UserId
from shopsage.api.schemas import ID_PATTERN, TEXT_PATTERN, ErrorOut, SearchOut, clean_text, printable
from shopsage.api.security import require_read, require_user_read
from shopsage.errors import ValidationError
from shopsage.search import ModeChoice
from shopsage.serving.search import SearchRequest, Sort

router = APIRouter(prefix="/v1", tags=["search"], dependencies=[Depends(require_read)])

_Labels = list[Annotated[str, Field(min_length=1, max_length=256, pattern=ID_PATTERN), AfterValidator(printable)]]


@router.get("/search", response_model=SearchOut,
            responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 422: {"model": ErrorOut},
                       429: {"model": ErrorOut}})
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=500, pattern=TEXT_PATTERN, description="The shopper's query."),
                 AfterValidator(clean_text)],
    category: Annotated[_Labels, Query(max_length=20, description="Keep items in any of these categories.")] = [],  # noqa: B006
    brand: Annotated[_Labels, Query(max_length=20, description="Keep items of any of these brands.")] = [],  # noqa: B006
    price_min: Annotated[float | None, Query(ge=0, le=1e12, allow_inf_nan=False)] = None,
    price_max: Annotated[float | None, Query(ge=0, le=1e12, allow_inf_nan=False)] = None,
    in_stock: Annotated[bool, Query(description="Only items in stock.")] = False,
    sort: Sort = "relevance",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Annotated[ModeChoice | None, Query(description="lexical, vector, hybrid, learned or auto (the best the "
                                             "service can serve); default: the search scenario's mode. A mode the "
                                             "service cannot serve (no encoder, no live ranker) answers 422.")] = None,
    user: UserId = None,
    session: SessionId = None,
) -> PreparedJSON:
    if price_min is not None and price_max is not None and price_min > price_max:
        raise ValidationError(f"price_min {price_min} is above price_max {price_max}: swap them")
    require_user_read(request, user)
    edge = ids(request)
    req = SearchRequest(q, categories=tuple(category), brands=tuple(brand), price_min=price_min, price_max=price_max,
                        in_stock=in_stock, sort=sort, page=page, per_page=per_page, mode=mode, user=edge.maybe(user),
                        session=edge.maybe(session))
    return PreparedJSON(current(request).search(req))  # SearchOut: its schema, not re-validated
