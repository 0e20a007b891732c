"""Redis-backed state (``redis://host:port/db``): every worker and process sees the same sessions.

Keys (all under one prefix, ``shopsage`` by default, ``?prefix=NAME`` in the URL):
``{p}:s:{session}`` and ``{p}:u:{user}`` lists of ``item\\ttype\\tts`` newest first, trimmed to the
recent limit; ``{p}:b:{user}`` set of bought items; ``{p}:e:{event id}`` idempotency markers
(expiring); ``{p}:pop`` sorted set of live popularity; ``{p}:cat`` list of changed item ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from shopsage.errors import ConfigError, StoreError
from shopsage.state.base import RECENT_LIMIT, Touch

__all__ = ["RedisState"]

_SEEN_TTL_S = 7 * 24 * 3600


class RedisState:
    """The :class:`~shopsage.state.base.StateStore` protocol on a Redis server."""

    def __init__(self, url: str, recent_limit: int = RECENT_LIMIT, ttl_s: int = 30 * 24 * 3600) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the client is a core dependency
            raise ConfigError("the Redis state needs the redis client: pip install redis") from exc
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.prefix = query.pop("prefix", ["shopsage"])[0]
        self.url = url
        self._limit = recent_limit
        self._ttl = ttl_s
        self._r: Any
        plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        try:
            self._r = redis.Redis.from_url(plain, decode_responses=True, socket_timeout=5, socket_connect_timeout=3)
            self._r.ping()
        except redis.RedisError as exc:
            raise StoreError(f"cannot reach the Redis state at {plain}: {exc}. Start Redis, or use --state memory://.") from exc

    def _k(self, kind: str, key: str = "") -> str:
        return f"{self.prefix}:{kind}:{key}" if key else f"{self.prefix}:{kind}"

    def claim(self, event_ids: Sequence[str]) -> list[bool]:
        if not event_ids:
            return []
        pipe = self._r.pipeline(transaction=False)
        for e in event_ids:
            pipe.set(self._k("e", e), 1, nx=True, ex=_SEEN_TTL_S)
        return [bool(x) for x in pipe.execute()]

    def release(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            self._r.delete(*(self._k("e", e) for e in event_ids))

    def record(self, user: str | None, session: str | None, touches: Sequence[Touch]) -> None:
        if not touches:
            return
        packed = [f"{t.item}\t{t.type}\t{t.ts!r}" for t in touches]
        pipe = self._r.pipeline(transaction=True)
        for key in ([self._k("u", user)] if user is not None else []) + ([self._k("s", session)] if session is not None else []):
            pipe.lpush(key, *packed)
            pipe.ltrim(key, 0, self._limit - 1)
            pipe.expire(key, self._ttl)
        bought = [t.item for t in touches if t.type == "purchase"]
        if user is not None and bought:
            pipe.sadd(self._k("b", user), *bought)
            pipe.expire(self._k("b", user), self._ttl)
        pipe.execute()

    def _recent(self, key: str, n: int) -> list[Touch]:
        out = []
        for raw in self._r.lrange(key, 0, max(n, 1) - 1):
            item, typ, ts = raw.rsplit("\t", 2)
            out.append(Touch(item, typ, float(ts)))
        return out

    def session_touches(self, session: str, n: int = RECENT_LIMIT) -> list[Touch]:
        return self._recent(self._k("s", session), n)

    def user_touches(self, user: str, n: int = RECENT_LIMIT) -> list[Touch]:
        return self._recent(self._k("u", user), n)

    def purchased(self, user: str) -> set[str]:
        return set(self._r.smembers(self._k("b", user)))

    def bump_popularity(self, counts: dict[str, float]) -> None:
        if counts:
            pipe = self._r.pipeline(transaction=False)
            for item, c in counts.items():
                pipe.zincrby(self._k("pop"), c, item)
            pipe.execute()

    def popularity(self, top: int) -> list[tuple[str, float]]:
        return [(k, float(v)) for k, v in self._r.zrevrange(self._k("pop"), 0, top - 1, withscores=True)]

    def publish_catalog(self, ext_ids: Sequence[str]) -> int:
        if not ext_ids:
            return int(self._r.llen(self._k("cat")))
        return int(self._r.rpush(self._k("cat"), *ext_ids))

    def catalog_changes(self, since: int) -> tuple[int, list[str]]:
        n = int(self._r.llen(self._k("cat")))
        if n <= since:
            return n, []
        return n, list(self._r.lrange(self._k("cat"), since, n - 1))

    def ping(self) -> bool:
        try:
            return bool(self._r.ping())
        except Exception:  # noqa: BLE001 - readiness only reports
            return False

    def clear(self) -> None:
        """Delete every key under this prefix (tests use a unique prefix per run)."""
        for key in self._r.scan_iter(f"{self.prefix}:*", count=500):
            self._r.delete(key)

    def close(self) -> None:
        self._r.close()
