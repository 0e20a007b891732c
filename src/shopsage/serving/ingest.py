"""Event ingest: claim event ids and idempotency keys, persist, then apply to the live state.

An accepted batch is written to the store before the state (sessions, profiles, popularity) learns
of it; a failed write releases the claims, so the client may retry the same request, ids and key.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from shopsage.data.rows import EventRow, RowKey
from shopsage.data.schema import Event
from shopsage.data.stores.base import StoreWriter
from shopsage.state import StateStore, Touch

__all__ = ["EventIngest", "NO_HISTORY"]

NO_HISTORY = ("impression", "search")
"""Event types that never enter a shopper's history or popularity."""


class EventIngest:
    """The write path of ``POST /v1/events`` for one service process."""

    def __init__(self, store: Callable[[], StoreWriter], state: StateStore, on_popularity: Callable[[], None]) -> None:
        self._store = store  # the service's current store (it may reopen one)
        self.state = state
        self._on_popularity = on_popularity  # live popularity changed: the service re-reads it
        self._source = f"api/{os.getpid()}-{int(time.time() * 1000)}"
        self._line = 0

    def ingest(self, events: Sequence[Event], idempotency_key: str | None = None) -> dict[str, Any]:
        """Apply validated events: claim their ids, persist them, update sessions, profiles, popularity."""
        req = [f"req:{idempotency_key}"] if idempotency_key is not None else []
        if req and not self.state.claim(req)[0]:
            return {"accepted": 0, "duplicates": len(events), "replayed": True}
        with_id = list(dict.fromkeys(e.id for e in events if e.id is not None))
        try:
            fresh_ids = dict(zip(with_id, self.state.claim(with_id), strict=True)) if with_id else {}
        except Exception:
            self.state.release(req)
            raise
        batch_seen: set[str] = set()
        fresh: list[Event] = []
        for e in events:
            if e.id is not None:
                if not fresh_ids[e.id] or e.id in batch_seen:
                    continue
                batch_seen.add(e.id)
            fresh.append(e)
        if fresh:
            try:
                self._persist(fresh)
            except Exception:  # nothing applied: the client may retry the same request, ids and key
                self.state.release(req + [e for e, new in fresh_ids.items() if new])
                raise
            self._apply(fresh)
        return {"accepted": len(fresh), "duplicates": len(events) - len(fresh), "replayed": False}

    def _persist(self, events: Sequence[Event]) -> None:
        rows = []
        for e in events:
            self._line += 1
            ctx = e.context.model_dump(exclude_none=True) if e.context is not None else None
            rows.append(EventRow(RowKey(self._source, self._line, 0), e.type, e.item, e.user, e.session, e.query,
                                 e.value, e.timestamp, e.ordinal, None, ctx or None, e.id))
        self._store().write_events(rows)

    def _apply(self, events: Sequence[Event]) -> None:
        groups: dict[tuple[str | None, str | None], list[Touch]] = {}
        pop: dict[str, float] = {}
        for e in events:
            if e.item is None or e.type in NO_HISTORY:
                continue
            ts = e.timestamp if e.timestamp is not None else time.time()
            groups.setdefault((e.user, e.session), []).append(Touch(e.item, e.type, ts))
            pop[e.item] = pop.get(e.item, 0.0) + 1.0
        for (user, session), touches in groups.items():
            self.state.record(user, session, touches)
        if pop:
            self.state.bump_popularity(pop)
            self._on_popularity()
