"""Who a request is for: a :class:`Shopper` from the stored history, the live state and the request,
and the mask of the items a scenario may show them.

Histories are catalogue slots, oldest first, with event types; the stored part (read at start) comes
before the live part (the state). :class:`Masks` caches the catalogue-wide part of each exclusion set
per catalogue version and adds the shopper's own exclusions per request.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopsage.errors import NotFoundError
from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.generators import Shopper
from shopsage.serving.history import StoredHistory
from shopsage.state import StateStore, Touch

__all__ = ["Masks", "assemble_shopper"]


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
        live_user = state.user_touches(user)
        sh.user_history = [(int(s), StoredHistory.type_name(t)) for s, t in zip(slots, types, strict=True)]
        sh.user_history += _live_history(catalog, live_user)
        sh.purchased = {int(s) for s in history.purchased(user)}
        sh.purchased |= {s for s in catalog.slots(state.purchased(user))}
    if session is not None:
        slots, types = history.session(session)
        live = state.session_touches(session)
        sh.session_history = [(int(s), StoredHistory.type_name(t)) for s, t in zip(slots, types, strict=True)]
        stored_session = list(sh.session_history)
        sh.session_history += _live_history(catalog, live)
        if user is not None:  # events sent with both ids are in both lists: count them once
            known = set(live_user)
            sh.combined = sh.user_history + stored_session + _live_history(catalog, [t for t in live if t not in known])
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


class Masks:
    """Which slots a scenario may show a shopper (its ``exclude`` list), cached per catalogue version."""

    def __init__(self, catalog: ServingCatalog) -> None:
        self.catalog = catalog
        self._cache: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}

    def clear(self) -> None:
        self._cache.clear()

    def base(self, exclude: tuple[str, ...], version: int) -> np.ndarray:
        """The catalogue-wide part (live, visible, in stock) of ``exclude``; shared, never modify it."""
        key = (version, exclude)
        m = self._cache.get(key)
        if m is None:
            m = self.catalog.visible.copy() if "hidden" in exclude else self.catalog.live.copy()
            m &= self.catalog.live
            if "out_of_stock" in exclude:
                m &= self.catalog.in_stock
            self._cache[key] = m
        return m

    def allowed(self, exclude: Sequence[str], sh: Shopper, version: int) -> np.ndarray:
        """A fresh mask: the base one less the shopper's purchases, history and the page's item as asked."""
        m = self.base(tuple(sorted(exclude)), version).copy()
        if "purchased" in exclude and sh.purchased:
            m[list(sh.purchased)] = False
        if "seen" in exclude:
            seen = [s for s, _ in sh.user_history] + [s for s, _ in sh.session_history]
            if seen:
                m[seen] = False
        if "source_item" in exclude and sh.item is not None:
            m[sh.item] = False
        return m
