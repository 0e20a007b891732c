"""One user's data: ``GET /v1/users/{id}/profile``, ``POST /v1/users/{id}/token`` (a shopper token) and
``DELETE /v1/users/{id}`` (erasure).

``{id}`` is the shop's own user id; the service only ever sees its pseudonym. A profile needs a key
or the user's shopper token; a token needs a write key (the shop's backend issues it to its logged-in
shopper); erasure needs an admin key: write keys often sit in storefront event trackers, and a leaked
tracker key must not be able to erase shoppers.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AfterValidator

from shopsage.api.deps import current, ids
from shopsage.api.schemas import ID_PATTERN, EraseOut, ErrorOut, ProfileOut, TokenOut, printable
from shopsage.api.security import require_admin, require_user_read, require_write
from shopsage.errors import NotFoundError

router = APIRouter(prefix="/v1/users", tags=["users"])

UserPath = Annotated[str, Path(min_length=1, max_length=256, pattern=ID_PATTERN), AfterValidator(printable)]
_ERR: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
                                         422: {"model": ErrorOut}, 429: {"model": ErrorOut}}
MAX_TOKEN_TTL_S = 30 * 24 * 3600


@router.get("/{user_id}/profile", response_model=ProfileOut, responses=_ERR)
def profile(user_id: UserPath, request: Request) -> ProfileOut:
    """Recent items, top categories and brands, price band (a key or this user's shopper token).
    During an id key rotation a user known only under the previous key's pseudonym is found too."""
    require_user_read(request, user_id)
    svc = current(request)
    for pseudonym in ids(request).all_pseudonyms(user_id):
        try:
            return ProfileOut.model_validate({**svc.profile(pseudonym), "user": user_id})
        except NotFoundError:  # its message names the pseudonym: answer with the caller's id below
            continue
    raise NotFoundError("this user has no interactions yet: send events with POST /v1/events")


@router.post("/{user_id}/token", response_model=TokenOut, responses=_ERR, dependencies=[Depends(require_write)])
def shopper_token(user_id: UserPath, request: Request,
                  ttl_s: Annotated[int, Query(ge=60, le=MAX_TOKEN_TTL_S, description="Lifetime in seconds.")] = 3600,
                  ) -> TokenOut:
    """A shopper token for this user: the storefront sends it as ``X-Shopper-Token`` to read the user's
    profile and recommendations without an API key."""
    now = time.time()
    token = ids(request).issue_shopper_token(user_id, ttl_s, now=now)
    return TokenOut(token=token, expires_at=int(now + ttl_s))


@router.delete("/{user_id}", response_model=EraseOut, responses=_ERR, dependencies=[Depends(require_admin)])
def erase_user(user_id: UserPath, request: Request) -> EraseOut:
    """Erase the user's events, profile, sessions and exposures from the store and the state, keep them
    out of future training and write an audit record (the privacy module's erasure). Idempotent: a
    second call erases nothing and answers zero counts. During an id key rotation the data under the
    previous key's pseudonym is erased too."""
    svc = current(request)
    totals: dict[str, int] = {}
    for pseudonym in ids(request).all_pseudonyms(user_id):
        for kind, count in svc.erase_user(pseudonym).items():
            totals[kind] = totals.get(kind, 0) + int(count)
    return EraseOut(user=user_id, erased=totals)
