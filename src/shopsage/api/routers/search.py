"""``GET /v1/search``: the search front door over HTTP (filters, facets, sort, pages, mode, personalization),
and ``GET /v1/autocomplete``: completions of what a shopper is typing.

``filter``, ``facets``, ``sort`` and ``highlight`` follow Meilisearch's conventions
(docs/architecture.md, "Search API conventions"); a malformed one, or one naming an attribute the
catalogue lacks, is a 400 that says which parameter, where and what.

The query is searched as typed and echoed to the caller; it is never logged, and stored only scrubbed
of e-mail addresses, phone and card numbers: with the answer's exposures (its ``query_id``), as search
events sent to ``POST /v1/events`` are. ``user`` and ``session`` are
pseudonymised; personalising for a ``user`` needs a key or that user's shopper token; ``variant``
previews a search experiment's variant (an admin key).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, Field

from shopsage.api.deps import current, ids
from shopsage.api.responses import PreparedJSON
from shopsage.api.routers.recommendations import SessionId, UserId, VariantName, preview_of
from shopsage.api.schemas import (
    ID_PATTERN,
    TEXT_PATTERN,
    AutocompleteOut,
    ErrorOut,
    SearchOut,
    clean_text,
    printable,
)
from shopsage.api.security import require_read, require_user_read
from shopsage.errors import ValidationError
from shopsage.search import ModeChoice
from shopsage.search.front import FACETS
from shopsage.serving.search import SearchRequest

router = APIRouter(prefix="/v1", tags=["search"], dependencies=[Depends(require_read)])

_Labels = list[Annotated[str, Field(min_length=1, max_length=256, pattern=ID_PATTERN), AfterValidator(printable)]]
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorOut}, 401: {"model": ErrorOut},
                                            403: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}}
_SEARCH_ERRORS = {**_ERRORS, 404: {"model": ErrorOut}}  # 404: ?variant= where no experiment runs


def _names(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list parameter: ``None`` (absent) is the default, ``""`` none."""
    if value is None:
        return default
    return tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))


@router.get("/search", response_model=SearchOut, responses=_SEARCH_ERRORS)
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=500, pattern=TEXT_PATTERN, description="The shopper's query."),
                 AfterValidator(clean_text)],
    category: Annotated[_Labels, Query(max_length=20, description="Keep items in any of these categories.")] = [],  # noqa: B006
    brand: Annotated[_Labels, Query(max_length=20, description="Keep items of any of these brands.")] = [],  # noqa: B006
    price_min: Annotated[float | None, Query(ge=0, le=1e12, allow_inf_nan=False)] = None,
    price_max: Annotated[float | None, Query(ge=0, le=1e12, allow_inf_nan=False)] = None,
    in_stock: Annotated[bool, Query(description="Only items in stock.")] = False,
    filter: Annotated[str | None, Query(max_length=2000, pattern=TEXT_PATTERN, description=(  # noqa: A002
        'An expression over any attribute: brand = "Gardena" AND price < 50, category IN ["Tools", "Garden"], '
        "NOT in_stock = false, price 10 TO 50, color EXISTS, parentheses, OR, !=, >=. ANDed with the other "
        "filters; a malformed one or an unknown attribute is a 400 naming the column.")),
        AfterValidator(clean_text)] = None,
    facets: Annotated[str | None, Query(max_length=1000, pattern=TEXT_PATTERN, description=(
        "Comma-separated facetable attributes to count over the filtered results (default brand,category; "
        "empty: none).")), AfterValidator(clean_text)] = None,
    sort: Annotated[str, Query(min_length=1, max_length=500, pattern=TEXT_PATTERN, description=(
        "relevance, price_asc, price_desc, popularity, or field:asc / field:desc on sortable attributes, "
        "comma-separated (rating:desc,price:asc)."))] = "relevance",
    highlight: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN, description=(
        "Comma-separated fields returned HTML-escaped with <mark> around matched words in each item's "
        "formatted: title, brand, category, description (default title,brand).")),
        AfterValidator(clean_text)] = None,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Annotated[ModeChoice | None, Query(description="lexical, vector, hybrid, learned or auto (the best the "
                                             "service can serve); default: the search scenario's mode. A mode the "
                                             "service cannot serve (no encoder, no live ranker) answers 422.")] = None,
    user: UserId = None,
    session: SessionId = None,
    variant: VariantName = None,
) -> PreparedJSON:
    if price_min is not None and price_max is not None and price_min > price_max:
        raise ValidationError(f"price_min {price_min} is above price_max {price_max}: swap them")
    forced = preview_of(request, variant)
    require_user_read(request, user)
    edge = ids(request)
    req = SearchRequest(q, categories=tuple(category), brands=tuple(brand), price_min=price_min, price_max=price_max,
                        in_stock=in_stock, sort=sort.strip(), page=page, per_page=per_page, mode=mode,
                        user=edge.maybe(user), session=edge.maybe(session),
                        filter_expr=filter if filter and filter.strip() else None,  # blank: none (a form's empty field)
                        facets=_names(facets, FACETS), highlight=_names(highlight, ("title", "brand")))
    return PreparedJSON(current(request).search(req, variant=forced))  # SearchOut: its schema, not re-validated


@router.get("/autocomplete", response_model=AutocompleteOut, responses=_ERRORS)
def autocomplete(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=100, pattern=TEXT_PATTERN, description="What the shopper typed."),
                 AfterValidator(clean_text)],
    n: Annotated[int, Query(ge=1, le=20, description="Completions to return.")] = 8,
) -> PreparedJSON:
    """Completions of ``q`` over past queries (only those searched by at least k distinct shoppers) and
    catalogue terms, most frequent first."""
    return PreparedJSON(current(request).autocomplete(q, n))
