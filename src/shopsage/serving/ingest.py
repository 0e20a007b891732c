"""Event ingest: store a request exactly once, then apply what it stored to the live state.

The store is the only judge of "already seen" (:meth:`~shopsage.data.stores.base.StoreWriter.ingest_events`):
a request's events and, with an ``Idempotency-Key``, its record (the body's digest and the answer)
commit in one transaction. Only then are the events this call stored applied to the state
(sessions, profiles, popularity), so a crash between the two loses nothing the store acknowledged:
a retry is answered from the store's record, and a restarted service reads the events from the
store. A retry with the key and another body, or an event id reused with other content, is refused
(409) with nothing applied.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from shopsage.data.rows import EventRow, RowKey
from shopsage.data.schema import Event
from shopsage.data.stores.base import StoreWriter, UnknownItems
from shopsage.privacy.cipher import FieldCipher
from shopsage.state import StateStore, Touch

__all__ = ["EventIngest", "NO_HISTORY", "request_digest"]

NO_HISTORY = ("impression", "search")
"""Event types that never enter a shopper's history or popularity."""


def request_digest(events: Sequence[Event], stamped: Collection[int] = ()) -> str:
    """SHA-256 of a request's events as the client sent them (timestamps the server stamped left out):
    a retry under the same Idempotency-Key must have the same digest."""
    sent = []
    for i, e in enumerate(events):
        data = e.model_dump(mode="json", exclude_none=True)
        if i in stamped:
            data.pop("timestamp", None)
        sent.append(data)
    text = json.dumps(sent, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class EventIngest:
    """The write path of ``POST /v1/events`` for one service process; safe to call from several threads."""

    def __init__(self, store: Callable[[], StoreWriter], state: StateStore, on_popularity: Callable[[], None],
                 unknown_items: UnknownItems = "quarantine") -> None:
        self._store = store  # the service's current store (it may reopen one)
        self.state = state
        self._on_popularity = on_popularity  # live popularity changed: the service re-reads it
        self.unknown_items: UnknownItems = unknown_items
        self._source = f"api/{os.getpid()}-{int(time.time() * 1000)}"
        self._lines = itertools.count(1)  # next() is atomic: each request its own line
        self._cipher = FieldCipher.from_env()  # $SHOPSAGE_FIELD_KEY: queries and contexts stored encrypted
        self.listeners: list[Callable[[Sequence[Event]], None]] = []
        """Called with the events each request stored (segments, drift monitors); after the state."""

    def ingest(self, events: Sequence[Event], idempotency_key: str | None = None,
               stamped: Collection[int] = ()) -> dict[str, Any]:
        """Store validated events exactly once, then update sessions, profiles and popularity with the
        ones stored now. ``stamped``: positions of events whose timestamp the server gave (the client
        sent none); that time is no part of what a retry must repeat. Returns ``accepted``,
        ``duplicates``, ``quarantined`` and ``replayed`` (the answer recorded under the key)."""
        line = next(self._lines)
        rows = [self._row(e, line, pos) for pos, e in enumerate(events)]
        digest = request_digest(events, stamped) if idempotency_key is not None else None
        out = self._store().ingest_events(rows, request_key=idempotency_key, digest=digest,
                                          unknown_items=self.unknown_items, stamped=sorted(stamped))
        if out.inserted:
            self._apply([events[i] for i in out.inserted])
        return out.answer()

    def _row(self, e: Event, line: int, pos: int) -> EventRow:
        ctx = e.context.model_dump(exclude_none=True) if e.context is not None else None
        row = EventRow(RowKey(self._source, line, pos), e.type, e.item, e.user, e.session, e.query, e.value,
                       e.timestamp, e.ordinal, None, ctx or None, e.id)
        return row if self._cipher is None else self._cipher.protect_event(row)  # encrypted at rest when keyed

    def _apply(self, events: Sequence[Event]) -> None:
        groups: dict[tuple[str | None, str | None], list[Touch]] = {}
        pop: dict[str, float] = {}
        for e in events:
            if e.item is None or e.type in NO_HISTORY:
                continue
            ts = e.timestamp if e.timestamp is not None else time.time()
            groups.setdefault((e.user, e.session), []).append(Touch(e.item, e.type, ts))
            pop[e.item] = pop.get(e.item, 0.0) + 1.0
        self.state.record_many([(user, session, touches) for (user, session), touches in groups.items()])
        if pop:
            self.state.bump_popularity(pop)
            self._on_popularity()
        for listen in self.listeners:
            listen(events)
