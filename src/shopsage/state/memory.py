"""In-process state: one worker, nothing shared, lost on restart (the default, ``memory://``).

Bounded like the Redis state (options in :mod:`shopsage.state.options`): a session or user is
forgotten ``session_ttl`` / ``user_ttl`` seconds after its last event, and at most ``max_sessions``
/ ``max_users`` are kept (the least recently active go first); claimed ids expire after
``claim_ttl`` and at most ``max_claims`` are kept; popularity counts a sliding window.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from shopsage.state.base import RECENT_LIMIT, Touch
from shopsage.state.options import POP_BUCKETS, parse_state_url

__all__ = ["MemoryState"]

V = TypeVar("V")
_EPS = 1e-9  # a count at or below this has left the window (float sums of whole counts)


class _Expiring(Generic[V]):
    """A map whose entries expire ``ttl`` seconds after their last write, at most ``cap`` of them.
    Ordered by last write: with one TTL the front expires first, so sweeping is amortised O(1)."""

    def __init__(self, ttl: float, cap: int) -> None:
        self._ttl, self._cap = ttl, cap
        self._d: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str, now: float) -> V | None:
        hit = self._d.get(key)
        if hit is None:
            return None
        if hit[0] <= now:
            del self._d[key]
            return None
        return hit[1]

    def put(self, key: str, value: V, now: float) -> None:
        self._d[key] = (now + self._ttl, value)
        self._d.move_to_end(key)
        d = self._d
        while d and (len(d) > self._cap or next(iter(d.values()))[0] <= now):
            d.popitem(last=False)

    def pop(self, key: str) -> None:
        self._d.pop(key, None)

    def __len__(self) -> int:
        return len(self._d)


class _User:
    __slots__ = ("touches", "bought")

    def __init__(self, limit: int) -> None:
        self.touches: deque[Touch] = deque(maxlen=limit)
        self.bought: set[str] | None = None


class _WindowedCounts:
    """Counts over the last ``window`` seconds in :data:`POP_BUCKETS` buckets and their running
    total; a bucket keeps its ``cap`` heaviest items (trimmed once it passes cap + cap // 8, the
    lightest first, ties by id, as Redis ranks them)."""

    def __init__(self, window: float, cap: int, now: float) -> None:
        self._bucket_s = window / POP_BUCKETS
        self._cap, self._slack = cap, cap // 8
        self._buckets: dict[int, Counter[str]] = {}
        self.total: Counter[str] = Counter()
        self._created = now

    def advance(self, now: float) -> int:
        """Drop the buckets that left the window; the current bucket's number."""
        b = int(now // self._bucket_s)
        for old in [k for k in self._buckets if k <= b - POP_BUCKETS]:
            self._subtract(self._buckets.pop(old).items())
        return b

    def _subtract(self, counts: Iterable[tuple[str, float]]) -> None:
        tot = self.total
        for item, c in counts:
            left = tot[item] - c
            if left > _EPS:
                tot[item] = left
            else:
                del tot[item]

    def add(self, counts: dict[str, float], now: float) -> None:
        bucket = self._buckets.setdefault(self.advance(now), Counter())
        bucket.update(counts)
        self.total.update(counts)
        if len(bucket) > self._cap + self._slack:
            ranked = sorted(bucket.items(), key=lambda kv: (kv[1], kv[0]))
            gone = ranked[: len(bucket) - self._cap]
            for item, _ in gone:
                del bucket[item]
            self._subtract(gone)

    def since(self, now: float) -> float | None:
        self.advance(now)
        if not self._buckets:
            return None
        return max(self._created, min(self._buckets) * self._bucket_s)

    def bucket_sizes(self) -> list[int]:
        return [len(b) for b in self._buckets.values()]


class MemoryState:
    """Expiring maps of bounded deques; a lock makes every method atomic across threads.

    ``url`` carries the options (``memory://?session_ttl=1800&max_sessions=200000``); ``clock``
    (Unix seconds) is injectable so tests move time instead of sleeping.
    """

    def __init__(self, url: str = "memory://", recent_limit: int = RECENT_LIMIT,
                 clock: Callable[[], float] = time.time) -> None:
        self.options, _ = parse_state_url(url, "memory")
        o = self.options
        self.url = url
        self._limit = recent_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._claims: _Expiring[bool] = _Expiring(o.claim_ttl, o.max_claims)
        self._sessions: _Expiring[deque[Touch]] = _Expiring(o.session_ttl, o.max_sessions)
        self._users: _Expiring[_User] = _Expiring(o.user_ttl, o.max_users)
        self._pop = _WindowedCounts(o.pop_window, o.max_items, clock())
        self._changes: list[str] = []  # the newest max_changes; version = self._first + len(self._changes)
        self._first = 0

    def claim(self, event_ids: Sequence[str]) -> list[bool]:
        with self._lock:
            now = self._clock()
            out = []
            for e in event_ids:
                new = self._claims.get(e, now) is None
                if new:
                    self._claims.put(e, True, now)
                out.append(new)
            return out

    def release(self, event_ids: Sequence[str]) -> None:
        with self._lock:
            for e in event_ids:
                self._claims.pop(e)

    def record(self, user: str | None, session: str | None, touches: Sequence[Touch]) -> None:
        self.record_many([(user, session, touches)])

    def record_many(self, batch: Sequence[tuple[str | None, str | None, Sequence[Touch]]]) -> None:
        with self._lock:
            now = self._clock()
            for user, session, touches in batch:
                if touches:
                    self._record(now, user, session, touches)

    def _record(self, now: float, user: str | None, session: str | None, touches: Sequence[Touch]) -> None:
        if session is not None:
            dq = self._sessions.get(session, now)
            if dq is None:
                dq = deque(maxlen=self._limit)
            dq.extend(touches)
            self._sessions.put(session, dq, now)
        if user is not None:
            u = self._users.get(user, now) or _User(self._limit)
            u.touches.extend(touches)
            bought = [t.item for t in touches if t.type == "purchase"]
            if bought:
                u.bought = (u.bought or set()) | set(bought)
            self._users.put(user, u, now)

    def session_touches(self, session: str, n: int = RECENT_LIMIT) -> list[Touch]:
        with self._lock:
            dq = self._sessions.get(session, self._clock())
            out = list(dq)[-n:] if dq else []
        out.reverse()
        return out

    def user_touches(self, user: str, n: int = RECENT_LIMIT) -> list[Touch]:
        with self._lock:
            u = self._users.get(user, self._clock())
            out = list(u.touches)[-n:] if u else []
        out.reverse()
        return out

    def purchased(self, user: str) -> set[str]:
        with self._lock:
            u = self._users.get(user, self._clock())
            return set(u.bought) if u is not None and u.bought else set()

    def forget(self, user: str | None, sessions: Sequence[str]) -> None:
        with self._lock:
            if user is not None:
                self._users.pop(user)
            for s in sessions:
                self._sessions.pop(s)

    def bump_popularity(self, counts: dict[str, float]) -> None:
        if counts:
            with self._lock:
                self._pop.add(counts, self._clock())

    def popularity(self, top: int) -> list[tuple[str, float]]:
        with self._lock:
            self._pop.advance(self._clock())
            return [(k, float(v)) for k, v in self._pop.total.most_common(top)]

    def popularity_since(self) -> float | None:
        with self._lock:
            return self._pop.since(self._clock())

    def publish_catalog(self, ext_ids: Sequence[str]) -> int:
        with self._lock:
            self._changes.extend(ext_ids)
            excess = len(self._changes) - self.options.max_changes
            if excess > 0:
                del self._changes[:excess]
                self._first += excess
            return self._first + len(self._changes)

    def catalog_changes(self, since: int) -> tuple[int, list[str] | None]:
        with self._lock:
            version = self._first + len(self._changes)
            if not self._first <= since <= version:
                return version, None  # the reader missed changes the log no longer holds
            return version, self._changes[since - self._first:]

    def sizes(self) -> dict[str, int]:
        """Entries held now (tests and the soak check the bounds with it)."""
        with self._lock:
            return {"sessions": len(self._sessions), "users": len(self._users), "claims": len(self._claims),
                    "popularity_items": len(self._pop.total), "popularity_bucket_max": max(self._pop.bucket_sizes(), default=0)}

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass
