"""Redis-backed state (``redis://host:port/db``): every worker and process sees the same sessions.

Keys (all under one prefix, ``shopsage`` by default, ``?prefix=NAME`` in the URL), each with an
expiry so the database stays bounded (options in :mod:`shopsage.state.options`):

- ``{p}:s:{session}`` and ``{p}:u:{user}``: lists of ``item\\ttype\\tts``, newest first, trimmed to
  the recent limit; they expire ``session_ttl`` / ``user_ttl`` seconds after the last event;
- ``{p}:b:{user}``: the user's bought set, expiring with the user's list;
- ``{p}:claims``: claimed event ids, a sorted set scored by expiry time (expired ids are removed on
  the next claim, at most ``max_claims`` kept, the oldest dropped first);
- ``{p}:pop``: live popularity, the running total of the buckets ``{p}:pop:{n}`` (each the counts of
  ``pop_window / 24`` seconds, its ``max_items`` heaviest items), listed in the sorted set
  ``{p}:popb``; a Lua script adds to the current bucket and the total and subtracts the buckets
  that left the window, atomically, so every worker sees one consistent total;
- ``{p}:cat``: the list of changed item ids (the catalogue change log), its newest ``max_changes``, and
  ``{p}:catv``, the number of changes ever published (the version); both written and read by Lua
  scripts, so a reader sees a version and the ids up to it together.

Expiry times are absolute (``PEXPIREAT``), computed from the state's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from shopsage.errors import ConfigError, StoreError
from shopsage.state.base import RECENT_LIMIT, Touch
from shopsage.state.options import POP_BUCKETS, parse_state_url

__all__ = ["RedisState"]

# KEYS: total, bucket index. ARGV: bucket key prefix, current bucket, buckets kept, max items per
# bucket, expiry (Unix ms), top (0: none), then item, count pairs. Returns the top items and weights.
_POPULARITY_LUA = """
local total, index, prefix = KEYS[1], KEYS[2], ARGV[1]
local bid = ARGV[2]
local b, kept, cap, top = tonumber(bid), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[6])
local old = redis.call('ZRANGEBYSCORE', index, '-inf', b - kept)
local ttl = redis.call('PTTL', index)
for _, id in ipairs(old) do
  local key = prefix .. id
  redis.call('ZUNIONSTORE', total, 2, total, key, 'WEIGHTS', 1, -1)
  redis.call('DEL', key)
  redis.call('ZREM', index, id)
end
if #old > 0 and ttl > 0 then
  redis.call('PEXPIRE', total, ttl)  -- ZUNIONSTORE made a new key, without the expiry
end
if #ARGV > 6 then
  local key = prefix .. bid
  for i = 7, #ARGV, 2 do
    redis.call('ZINCRBY', key, ARGV[i + 1], ARGV[i])
    redis.call('ZINCRBY', total, ARGV[i + 1], ARGV[i])
  end
  redis.call('ZADD', index, b, bid)
  local excess = redis.call('ZCARD', key) - cap
  if excess > 0 then
    local gone = redis.call('ZRANGE', key, 0, excess - 1, 'WITHSCORES')
    for i = 1, #gone, 2 do
      redis.call('ZINCRBY', total, -tonumber(gone[i + 1]), gone[i])
    end
    redis.call('ZREMRANGEBYRANK', key, 0, excess - 1)
  end
  for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    redis.call('PEXPIREAT', prefix .. id, ARGV[5])
  end
  redis.call('PEXPIREAT', total, ARGV[5])
  redis.call('PEXPIREAT', index, ARGV[5])
end
redis.call('ZREMRANGEBYSCORE', total, '-inf', 1e-9)
if top > 0 then
  return redis.call('ZREVRANGE', total, 0, top - 1, 'WITHSCORES')
end
return {}
"""


# KEYS: the change list, the version. ARGV: max changes kept, then the ids. Returns the new version.
# A log written before the version key existed counts its length as the version.
_PUBLISH_LUA = """
local v = tonumber(redis.call('GET', KEYS[2]) or redis.call('LLEN', KEYS[1]))
if #ARGV > 1 then
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
  v = v + #ARGV - 1
end
redis.call('SET', KEYS[2], v)
return v
"""

# KEYS: the change list, the version. ARGV: since. Returns {version, 1, ids} or {version, 0} when the
# list no longer reaches back to since (or since is past the version: the state was emptied).
_CHANGES_LUA = """
local n = redis.call('LLEN', KEYS[1])
local v = tonumber(redis.call('GET', KEYS[2]) or n)
local since, first = tonumber(ARGV[1]), v - n
if since < first or since > v then
  return {v, 0}
end
if since == v then
  return {v, 1, {}}
end
return {v, 1, redis.call('LRANGE', KEYS[1], since - first, -1)}
"""


class RedisState:
    """The :class:`~shopsage.state.base.StateStore` protocol on a Redis server.

    ``url`` carries the options (``redis://host:6379/0?session_ttl=1800&prefix=shop``); ``clock``
    (Unix seconds) sets every expiry and the popularity window, injectable for tests.
    """

    def __init__(self, url: str, recent_limit: int = RECENT_LIMIT, clock: Callable[[], float] = time.time) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the client is a core dependency
            raise ConfigError("the Redis state needs the redis client: pip install redis") from exc
        self.options, plain = parse_state_url(url, "redis")
        self.prefix = self.options.prefix
        self.url = url
        self._limit = recent_limit
        self._clock = clock
        self._r: Any
        try:
            self._r = redis.Redis.from_url(plain, decode_responses=True, socket_timeout=5, socket_connect_timeout=3)
            self._r.ping()
        except redis.RedisError as exc:
            raise StoreError(f"cannot reach the Redis state at {plain}: {exc}. Start Redis, or use --state memory://.") from exc
        self._pop_script = self._r.register_script(_POPULARITY_LUA)
        self._publish_script = self._r.register_script(_PUBLISH_LUA)
        self._changes_script = self._r.register_script(_CHANGES_LUA)

    def _k(self, kind: str, key: str = "") -> str:
        return f"{self.prefix}:{kind}:{key}" if key else f"{self.prefix}:{kind}"

    def _at_ms(self, now: float, ttl: int) -> int:
        return int((now + ttl) * 1000)

    def claim(self, event_ids: Sequence[str]) -> list[bool]:
        if not event_ids:
            return []
        now, key = self._clock(), self._k("claims")
        expires = now + self.options.claim_ttl
        pipe = self._r.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now)
        for e in event_ids:
            pipe.zadd(key, {e: expires}, nx=True)
        pipe.zremrangebyrank(key, 0, -self.options.max_claims - 1)
        pipe.pexpireat(key, self._at_ms(now, self.options.claim_ttl))
        added = pipe.execute()[1:1 + len(event_ids)]
        return [bool(x) for x in added]

    def release(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            self._r.zrem(self._k("claims"), *event_ids)

    def record(self, user: str | None, session: str | None, touches: Sequence[Touch]) -> None:
        self.record_many([(user, session, touches)])

    def record_many(self, batch: Sequence[tuple[str | None, str | None, Sequence[Touch]]]) -> None:
        """Every group of a request in one transaction and one round trip (a request of 100 sessions
        made 100 round trips before: the Redis soak served about 50 requests/s)."""
        batch = [b for b in batch if b[2]]
        if not batch:
            return
        now = self._clock()
        pipe = self._r.pipeline(transaction=True)
        for user, session, touches in batch:
            self._queue_record(pipe, now, user, session, touches)
        pipe.execute()

    def _queue_record(self, pipe: Any, now: float, user: str | None, session: str | None,
                      touches: Sequence[Touch]) -> None:
        o = self.options
        packed = [f"{t.item}\t{t.type}\t{t.ts!r}" for t in touches]
        keys = [(self._k("u", user), o.user_ttl)] if user is not None else []
        keys += [(self._k("s", session), o.session_ttl)] if session is not None else []
        for key, ttl in keys:
            pipe.lpush(key, *packed)
            pipe.ltrim(key, 0, self._limit - 1)
            pipe.pexpireat(key, self._at_ms(now, ttl))
        if user is not None:
            bought = [t.item for t in touches if t.type == "purchase"]
            if bought:
                pipe.sadd(self._k("b", user), *bought)
            pipe.pexpireat(self._k("b", user), self._at_ms(now, o.user_ttl))  # no-op without a set

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

    def forget(self, user: str | None, sessions: Sequence[str]) -> None:
        keys = [self._k("u", user), self._k("b", user)] if user is not None else []
        keys += [self._k("s", s) for s in sessions]
        if keys:
            self._r.delete(*keys)

    def _popularity(self, counts: dict[str, float], top: int) -> list[tuple[str, float]]:
        now, o = self._clock(), self.options
        bucket_s = o.pop_window / POP_BUCKETS
        args: list[Any] = [self._k("pop") + ":", str(int(now // bucket_s)), POP_BUCKETS, o.max_items,
                           self._at_ms(now, o.pop_window + int(bucket_s) + 1), top]
        for item, c in counts.items():
            args += [item, repr(float(c))]
        flat = self._pop_script(keys=[self._k("pop"), self._k("popb")], args=args)
        return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]

    def bump_popularity(self, counts: dict[str, float]) -> None:
        if counts:
            self._popularity(counts, 0)

    def popularity(self, top: int) -> list[tuple[str, float]]:
        return self._popularity({}, top) if top > 0 else []

    def popularity_since(self) -> float | None:
        self._popularity({}, 0)  # drop the buckets that left the window
        oldest = self._r.zrange(self._k("popb"), 0, 0)
        return int(oldest[0]) * (self.options.pop_window / POP_BUCKETS) if oldest else None

    def publish_catalog(self, ext_ids: Sequence[str]) -> int:
        version = 0
        for i in range(0, max(len(ext_ids), 1), 5000):  # bounded script arguments per call
            version = int(self._publish_script(keys=[self._k("cat"), self._k("catv")],
                                               args=[self.options.max_changes, *ext_ids[i:i + 5000]]))
        return version

    def catalog_changes(self, since: int) -> tuple[int, list[str] | None]:
        out = self._changes_script(keys=[self._k("cat"), self._k("catv")], args=[int(since)])
        return int(out[0]), (list(out[2]) if int(out[1]) else None)

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
