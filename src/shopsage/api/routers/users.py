"""``GET /v1/users/{id}/profile``: recent items, top categories and brands, price band."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from shopsage.api.deps import service
from shopsage.api.schemas import ErrorOut, ProfileOut
from shopsage.api.security import require_read
from shopsage.serving.service import Service

router = APIRouter(prefix="/v1/users", tags=["users"], dependencies=[Depends(require_read)])


@router.get("/{user_id}/profile", response_model=ProfileOut, responses={404: {"model": ErrorOut}})
async def profile(user_id: Annotated[str, Path(min_length=1, max_length=256)],
                  svc: Annotated[Service, Depends(service)]) -> ProfileOut:
    return ProfileOut.model_validate(svc.profile(user_id))
