"""In-process state: one worker, nothing shared, lost on restart (the default, ``memory://``)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Sequence

from shopsage.state.base import RECENT_LIMIT, Touch

__all__ = ["MemoryState", "SEEN_LIMIT"]

SEEN_LIMIT = 1_000_000
"""Event ids remembered for idempotency (the oldest are forgotten beyond this)."""


class MemoryState:
    """Dicts of bounded deques; a lock makes every method atomic across threads."""

    def __init__(self, url: str = "memory://", recent_limit: int = RECENT_LIMIT, seen_limit: int = SEEN_LIMIT) -> None:
        self.url = url
        self._limit = recent_limit
        self._seen_limit = seen_limit
        self._lock = threading.Lock()
        self._seen: dict[str, None] = {}  # insertion-ordered: the oldest ids are forgotten first
        self._sessions: dict[str, deque[Touch]] = {}
        self._users: dict[str, deque[Touch]] = {}
        self._bought: dict[str, set[str]] = {}
        self._pop: Counter[str] = Counter()
        self._changes: list[str] = []

    def claim(self, event_ids: Sequence[str]) -> list[bool]:
        with self._lock:
            out = []
            for e in event_ids:
                out.append(e not in self._seen)
                self._seen[e] = None
            if len(self._seen) > self._seen_limit:  # bounded memory, like the Redis markers' expiry
                for old in list(self._seen)[: len(self._seen) - self._seen_limit]:
                    del self._seen[old]
            return out

    def release(self, event_ids: Sequence[str]) -> None:
        with self._lock:
            for e in event_ids:
                self._seen.pop(e, None)

    def record(self, user: str | None, session: str | None, touches: Sequence[Touch]) -> None:
        with self._lock:
            for key, table in ((user, self._users), (session, self._sessions)):
                if key is None:
                    continue
                dq = table.get(key)
                if dq is None:
                    dq = table[key] = deque(maxlen=self._limit)
                dq.extend(touches)
            if user is not None:
                bought = [t.item for t in touches if t.type == "purchase"]
                if bought:
                    self._bought.setdefault(user, set()).update(bought)

    def _recent(self, table: dict[str, deque[Touch]], key: str, n: int) -> list[Touch]:
        with self._lock:
            dq = table.get(key)
            if not dq:
                return []
            out = list(dq)[-n:]
        out.reverse()
        return out

    def session_touches(self, session: str, n: int = RECENT_LIMIT) -> list[Touch]:
        return self._recent(self._sessions, session, n)

    def user_touches(self, user: str, n: int = RECENT_LIMIT) -> list[Touch]:
        return self._recent(self._users, user, n)

    def purchased(self, user: str) -> set[str]:
        with self._lock:
            return set(self._bought.get(user, ()))

    def bump_popularity(self, counts: dict[str, float]) -> None:
        with self._lock:
            self._pop.update(counts)

    def popularity(self, top: int) -> list[tuple[str, float]]:
        with self._lock:
            return [(k, float(v)) for k, v in self._pop.most_common(top)]

    def publish_catalog(self, ext_ids: Sequence[str]) -> int:
        with self._lock:
            self._changes.extend(ext_ids)
            return len(self._changes)

    def catalog_changes(self, since: int) -> tuple[int, list[str]]:
        with self._lock:
            return len(self._changes), self._changes[since:]

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass
