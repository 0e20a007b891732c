"""``GET /v1/recommendations/{scenario}``: the scenario's pipeline, every item with its reasons.

The ``user`` and ``session`` are pseudonymised before the service sees them; recommendations for a
``user`` need a key or that user's shopper token (:func:`~shopsage.api.security.require_user_read`).
``?variant=NAME`` previews a running experiment's variant (an admin key; :func:`preview_of`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator

from shopsage.api.deps import current, ids
from shopsage.api.responses import PreparedJSON
from shopsage.api.schemas import ID_PATTERN, ErrorOut, RecResponse, printable
from shopsage.api.security import require_read, require_scope, require_user_read
from shopsage.errors import ValidationError

router = APIRouter(prefix="/v1", tags=["recommendations"], dependencies=[Depends(require_read)])

MAX_HISTORY = 50
"""Item ids one ``?history=`` may carry (a visit's recent views, not a whole history)."""

Scenario = Literal["for_you", "similar_items", "frequently_bought_together", "next_in_session", "trending", "also_viewed"]
UserId = Annotated[str | None, Query(min_length=1, max_length=256, pattern=ID_PATTERN,
                                     description="The shop's user id (a key or this user's shopper token needed)."),
                   AfterValidator(lambda v: v if v is None else printable(v))]
SessionId = Annotated[str | None, Query(min_length=1, max_length=256, pattern=ID_PATTERN, description="Session id."),
                      AfterValidator(lambda v: v if v is None else printable(v))]
VariantName = Annotated[str | None, Query(min_length=1, max_length=64, pattern=ID_PATTERN, description=(
    "Preview this variant of the experiment running here (an admin key needed): the answer is the variant's, "
    "marked preview, and no part of the experiment's sample. An unknown variant is a 422 naming the variants; "
    "no experiment running here is a 404.")), AfterValidator(lambda v: v if v is None else printable(v))]


def preview_of(request: Request, variant: str | None) -> str | None:
    """``variant`` once the caller may force it (an admin key: a preview shows what a variant serves to QA and
    merchants, it must not let a shopper pick their own arm)."""
    if variant is not None:
        require_scope(request, "admin", "previewing an experiment's variant (?variant=)")
    return variant


@router.get("/recommendations/{scenario}", response_model=RecResponse,
            responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
                       422: {"model": ErrorOut}, 429: {"model": ErrorOut}})
def recommendations(
    request: Request,
    scenario: Scenario,
    user: UserId = None,
    session: SessionId = None,
    item: Annotated[str | None, Query(min_length=1, max_length=256, pattern=ID_PATTERN,
                                      description="The page's item (similar_items, frequently_bought_together, also_viewed)."),
                    AfterValidator(lambda v: v if v is None else printable(v))] = None,
    n: Annotated[int, Query(ge=1, le=100)] = 10,
    history: Annotated[str | None, Query(description=f"Items viewed in this visit, oldest first, comma-separated "
                                         f"(at most {MAX_HISTORY} ids of 1-256 characters): for a storefront that "
                                         "keeps the session itself. They extend the session's history; unknown "
                                         "ids are left out.")] = None,
    variant: VariantName = None,
) -> PreparedJSON:
    """for_you (user and/or session; none: trending), similar_items / frequently_bought_together /
    also_viewed (item), next_in_session (session and/or history), trending."""
    forced = preview_of(request, variant)
    require_user_read(request, user)
    history_ids = _history_ids(history)
    edge = ids(request)
    answer = current(request).recommend(scenario, edge.maybe(user), edge.maybe(session), item, n, history_ids,
                                        variant=forced)
    return PreparedJSON(answer)  # RecResponse: its schema, not re-validated


def _history_ids(history: str | None) -> list[str] | None:
    """The ids of ``?history=a,b,c``, refused when empty, too long, too many or not printable."""
    if history is None:
        return None
    ids = history.split(",")
    if len(ids) > MAX_HISTORY:
        raise ValidationError(f"history has {len(ids)} item ids, more than {MAX_HISTORY}: send the visit's "
                              f"{MAX_HISTORY} most recent items (oldest first)")
    bad = [i for i, x in enumerate(ids) if not 1 <= len(x) <= 256 or not x.isprintable()]
    if bad:
        raise ValidationError(f"history's ids at positions {bad[:10]} are empty, longer than 256 characters or hold "
                              "control characters: send item ids separated by single commas, e.g. ?history=sku1,sku2")
    return ids
