"""``GET/PATCH /v1/settings``: the search index settings a merchant edits live (admin key).

Synonyms, stop words, typo tolerance, searchable, facetable and sortable attributes and
autocomplete's k, persisted in the shop's home and served by the next request of every worker
(:mod:`shopsage.search.index_settings`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from shopsage.api.deps import current
from shopsage.api.schemas import ErrorOut
from shopsage.api.security import require_admin
from shopsage.search.index_settings import IndexSettings, SettingsPatch

router = APIRouter(prefix="/v1", tags=["settings"], dependencies=[Depends(require_admin)])

_ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}}


@router.get("/settings", response_model=IndexSettings, responses=_ERRORS)  # type: ignore[arg-type]
def get_settings(request: Request) -> dict[str, object]:
    """The index settings now served."""
    return current(request).search_settings()


@router.patch("/settings", response_model=IndexSettings, responses=_ERRORS)  # type: ignore[arg-type]
def patch_settings(request: Request, patch: SettingsPatch) -> dict[str, object]:
    """Replace the given fields (``null``: back to the default); the next search and autocomplete serve them."""
    return current(request).update_search_settings(patch)
