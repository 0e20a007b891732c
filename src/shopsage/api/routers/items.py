"""Items: read, upsert, patch (stock, price, availability) and delete; effective on the next request.
Catalogue writes need an admin key (see :mod:`shopsage.api.security`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from pydantic import AfterValidator

from shopsage.api.deps import current
from shopsage.api.schemas import (
    ID_PATTERN,
    MAX_BATCH,
    ErrorOut,
    ItemIn,
    ItemPatch,
    ItemView,
    UpsertResult,
    item_row,
    printable,
)
from shopsage.api.security import require_admin, require_read
from shopsage.errors import ValidationError

router = APIRouter(prefix="/v1/items", tags=["items"])

ItemId = Annotated[str, Path(min_length=1, max_length=256, pattern=ID_PATTERN), AfterValidator(printable)]
_ERR: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}, 401: {"model": ErrorOut},
                                         403: {"model": ErrorOut}, 429: {"model": ErrorOut}}


@router.get("/{item_id}", response_model=ItemView, responses=_ERR, dependencies=[Depends(require_read)])
def get_item(item_id: ItemId, request: Request) -> ItemView:
    return ItemView.model_validate(current(request).get_item(item_id))


@router.put("/{item_id}", response_model=UpsertResult, responses=_ERR, dependencies=[Depends(require_admin)])
def put_item(item_id: ItemId, item: ItemIn, request: Request) -> UpsertResult:
    """Create or replace one item."""
    if item.id is not None and item.id != item_id:
        raise ValidationError("the body's id differs from the path's: leave it out or make them equal")
    return UpsertResult(**current(request).upsert_items([item_row(item_id, item)]))


@router.post("", response_model=UpsertResult, responses=_ERR, dependencies=[Depends(require_admin)])
def post_items(items: Annotated[list[ItemIn], Body(min_length=1, max_length=MAX_BATCH)], request: Request) -> UpsertResult:
    """Create or replace many items (each with its id)."""
    missing = [i for i, it in enumerate(items) if it.id is None]
    if missing:
        raise ValidationError(f"items at positions {missing[:10]} have no id: every item of a batch needs one")
    rows = [item_row(it.id, it) for it in items if it.id is not None]
    return UpsertResult(**current(request).upsert_items(rows))


@router.patch("/{item_id}", response_model=ItemView, responses=_ERR, dependencies=[Depends(require_admin)])
def patch_item(item_id: ItemId, patch: ItemPatch, request: Request) -> ItemView:
    """Change stock, price or availability (the other fields keep their values)."""
    changes = patch.model_dump(exclude_unset=True)
    if any(v is None and k == "available" for k, v in changes.items()):
        raise ValidationError("available must be true or false")
    return ItemView.model_validate(current(request).patch_item(item_id, changes))


@router.delete("/{item_id}", status_code=204, responses=_ERR, dependencies=[Depends(require_admin)])
def delete_item(item_id: ItemId, request: Request) -> Response:
    """Remove the item from search and recommendations (the store keeps it hidden: past events refer to it)."""
    current(request).delete_item(item_id)
    return Response(status_code=204)
