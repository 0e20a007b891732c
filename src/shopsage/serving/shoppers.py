"""Who a request is for: a :class:`Shopper` from the stored history, the live state and the request.

Histories are catalogue slots, oldest first, with event types; the stored part (read at start,
:mod:`shopsage.serving.history`) comes before the live part (the state: only the interactions the
stored part does not already hold, so a state that outlived a restart counts each event once), and
the items the request itself sends come last. The mask of what a scenario may show the shopper is
:mod:`shopsage.serving.masks`.
"""

from __future__ import annotations

from collections.abc import Sequence

from shopsage.errors import NotFoundError
from shopsage.profiles import Profile, build_profile
from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.generators import Shopper
from shopsage.serving.history import StoredHistory
from shopsage.state import StateStore, Touch

__all__ = ["assemble_shopper", "history_profile"]


def _live_history(catalog: ServingCatalog, touches: list[Touch]) -> list[tuple[int, str]]:
    out = []
    for t in reversed(touches):  # the state gives newest first
        s = catalog.slot(t.item)
        if s is not None:
            out.append((s, t.type))
    return out


def assemble_shopper(catalog: ServingCatalog, history: StoredHistory, state: StateStore, user: str | None,
                     session: str | None, item: str | None = None, sent: Sequence[str] | None = None) -> Shopper:
    """The shopper of a request; ``sent`` (item ids, oldest first) is what the request itself says the
    shopper viewed in this visit (a storefront without sessions on the server): it extends the
    session's history, and unknown ids are left out."""
    sh = Shopper(user=user, session=session)
    live_user: list[Touch] = []
    if user is not None:
        slots, types = history.user(user)
        live_user = history.unseen("user", user, state.user_touches(user), catalog.slot)
        sh.user_history = [(int(s), StoredHistory.type_name(t)) for s, t in zip(slots, types, strict=True)]
        sh.user_history += _live_history(catalog, live_user)
        sh.purchased = {int(s) for s in history.purchased(user)}
        sh.purchased |= {s for s in catalog.slots(state.purchased(user))}
    if session is not None:
        slots, types = history.session(session)
        live = history.unseen("session", session, state.session_touches(session), catalog.slot)
        sh.session_history = [(int(s), StoredHistory.type_name(t)) for s, t in zip(slots, types, strict=True)]
        sh.session_history += _live_history(catalog, live)
        if user is not None:  # events sent with both ids are in both lists: count them once
            known = set(live_user)
            slots, types = history.session_beyond_user(session, user)
            sh.combined = sh.user_history + [(int(s), StoredHistory.type_name(t)) for s, t in zip(slots, types, strict=True)]
            sh.combined += _live_history(catalog, [t for t in live if t not in known])
    if sent:
        views = [(slot, "view") for ext in sent if (slot := catalog.slot(ext)) is not None]
        sh.session_history = sh.session_history + views
        if sh.combined is not None:
            sh.combined = sh.combined + views
    if item is not None:
        s = catalog.slot(item)
        if s is None:
            raise NotFoundError(f"item {item!r} is not in the catalogue; check the id or upsert the item first")
        sh.item = s
    return sh



def history_profile(catalog: ServingCatalog, hist: Sequence[tuple[int, str]]) -> Profile:
    """The profile (recent items, top categories and brands, price band) of a history of ``(slot, type)``, oldest first."""
    touches = [(catalog.ext(s), t) for s, t in reversed(hist)]
    return build_profile(touches, catalog.info)
