"""Items: read, upsert, patch (stock, price, availability) and delete; effective on the next request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response

from shopsage.api.deps import service
from shopsage.api.schemas import MAX_BATCH, ErrorOut, ItemIn, ItemPatch, ItemView, UpsertResult, item_row
from shopsage.api.security import require_read, require_write
from shopsage.errors import ValidationError
from shopsage.serving.service import Service

router = APIRouter(prefix="/v1/items", tags=["items"])

ItemId = Annotated[str, Path(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")]
_ERR: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut}}


@router.get("/{item_id}", response_model=ItemView, responses=_ERR, dependencies=[Depends(require_read)])
async def get_item(item_id: ItemId, svc: Annotated[Service, Depends(service)]) -> ItemView:
    return ItemView.model_validate(svc.get_item(item_id))


@router.put("/{item_id}", response_model=UpsertResult, responses=_ERR, dependencies=[Depends(require_write)])
async def put_item(item_id: ItemId, item: ItemIn, svc: Annotated[Service, Depends(service)]) -> UpsertResult:
    """Create or replace one item."""
    if item.id is not None and item.id != item_id:
        raise ValidationError(f"the body's id {item.id!r} differs from the path's {item_id!r}: leave it out or make them equal")
    return UpsertResult(**svc.upsert_items([item_row(item_id, item)]))


@router.post("", response_model=UpsertResult, responses=_ERR, dependencies=[Depends(require_write)])
async def post_items(items: Annotated[list[ItemIn], Body(min_length=1, max_length=MAX_BATCH)],
                     svc: Annotated[Service, Depends(service)]) -> UpsertResult:
    """Create or replace many items (each with its id)."""
    missing = [i for i, it in enumerate(items) if it.id is None]
    if missing:
        raise ValidationError(f"items at positions {missing[:10]} have no id: every item of a batch needs one")
    rows = [item_row(it.id, it) for it in items if it.id is not None]
    return UpsertResult(**svc.upsert_items(rows))


@router.patch("/{item_id}", response_model=ItemView, responses=_ERR, dependencies=[Depends(require_write)])
async def patch_item(item_id: ItemId, patch: ItemPatch, svc: Annotated[Service, Depends(service)]) -> ItemView:
    """Change stock, price or availability (the other fields keep their values)."""
    changes = patch.model_dump(exclude_unset=True)
    if any(v is None and k == "available" for k, v in changes.items()):
        raise ValidationError("available must be true or false")
    return ItemView.model_validate(svc.patch_item(item_id, changes))


@router.delete("/{item_id}", status_code=204, responses=_ERR, dependencies=[Depends(require_write)])
async def delete_item(item_id: ItemId, svc: Annotated[Service, Depends(service)]) -> Response:
    """Remove the item from search and recommendations (the store keeps it hidden: past events refer to it)."""
    svc.delete_item(item_id)
    return Response(status_code=204)
