"""The search route's request and answer: the front door's, plus who is asking.

All of search (modes, the fallback chain, personalization, merchant rules, facets, evidence) is the
front door's (:mod:`shopsage.search.front`); the service only turns the shopper's ids into a profile,
the exclusions into a mask and live behaviour events into popularity, then formats the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopsage.search.front import SearchPage, Sort
from shopsage.search.front import SearchRequest as _FrontRequest
from shopsage.serving.catalog import ServingCatalog

__all__ = ["SearchRequest", "Sort", "page_json"]


@dataclass(frozen=True)
class SearchRequest(_FrontRequest):
    """A shopper's query as the route receives it: the front door's request plus the ids the service
    reads a profile from (``profile`` and ``popularity`` are filled in by the service)."""

    user: str | None = None
    session: str | None = None


def page_json(page: SearchPage, catalog: ServingCatalog) -> dict[str, Any]:
    """The route's JSON of a page: each shown item as the API shows items, with score and reasons."""
    items = [{**catalog.view(h.slot), "score": h.score, "reasons": [r.as_dict() for r in h.reasons]} for h in page.hits]
    return {"query": page.query, "corrected": page.corrected, "mode": page.mode, "fallback": page.fallback,
            "total": page.total, "page": page.page, "per_page": page.per_page, "sort": page.sort, "items": items,
            "facets": {k: [{"value": v, "count": c} for v, c in vals] for k, vals in page.facets.items()},
            "personalized": page.personalized}
