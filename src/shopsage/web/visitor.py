"""Who is shopping and what is in their cart: two cookies, and the events the storefront sends.

The shopper is an anonymous session: a random id in the ``ss_sid`` cookie (HttpOnly, SameSite=Lax),
pseudonymised by the app's :class:`~shopsage.privacy.ids.Pseudonymizer` before the service sees it,
exactly as ``?session=`` of the API is. The cart is the ``ss_cart`` cookie: item ids, one per unit,
at most :data:`MAX_CART` (the server trusts nothing in it: unknown ids are dropped when it is shown).
Events go through the API's own validation (:class:`~shopsage.api.schemas.EventIn`) and the service's
ingest, so a storefront event is stored exactly as the same event posted to ``POST /v1/events``.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request, Response

from shopsage.api.deps import current, ids
from shopsage.api.schemas import EventContextIn, EventIn

__all__ = ["SESSION_COOKIE", "CART_COOKIE", "MAX_CART", "session_id", "cart_of", "store_cart", "send_event",
           "context_fields"]

SESSION_COOKIE = "ss_sid"
CART_COOKIE = "ss_cart"
MAX_CART = 50
_ID_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def session_id(request: Request, response: Response | None = None) -> str:
    """The shopper's session id (raw, as the browser holds it); a new one is set on ``response`` when absent."""
    sid = request.cookies.get(SESSION_COOKIE, "")
    if not (16 <= len(sid) <= 64 and set(sid) <= _ID_OK):
        sid = request.state.__dict__.get("new_sid") or secrets.token_urlsafe(18)
        request.state.new_sid = sid
    if response is not None and request.cookies.get(SESSION_COOKIE) != sid:
        response.set_cookie(SESSION_COOKIE, sid, max_age=30 * 86400, httponly=True, samesite="lax", path="/")
    return sid


def cart_of(request: Request) -> list[str]:
    """Item ids in the cart, one per unit, oldest first."""
    raw = request.cookies.get(CART_COOKIE, "")
    return [x for x in raw.split("|") if 0 < len(x) <= 256 and x.isprintable()][:MAX_CART] if raw else []


def store_cart(response: Response, items: list[str]) -> None:
    if items:
        response.set_cookie(CART_COOKIE, "|".join(items[-MAX_CART:]), max_age=7 * 86400, httponly=True,
                            samesite="lax", path="/")
    else:
        response.delete_cookie(CART_COOKIE, path="/")


def context_fields() -> set[str]:
    """The context fields events accept now (``query_id``/``recomm_id`` once attribution is served)."""
    return set(EventContextIn.model_fields)


def send_event(request: Request, type: str, item: str | None = None, query: str | None = None,
               value: float | None = None, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate and ingest one event of this shopper's session (server time); returns the ingest answer."""
    known = context_fields()
    ctx = {k: v for k, v in (context or {}).items() if v is not None and k in known}
    event = EventIn.model_validate({"type": type, "session": session_id(request), "item": item, "query": query,
                                    "value": value, "context": ctx or None})
    answer = current(request).ingest([event.to_event(ids(request))], None, [0])
    request.app.state.metrics.events.inc(answer.get("accepted", 0))
    return answer
