"""Rate limits per API key and per client address: token buckets, in-process or shared through Redis.

Each client has a bucket holding up to ``burst`` requests that refills at ``rate`` requests per
second; a request takes one, and a client with an empty bucket gets ``429`` with ``Retry-After``
(whole seconds until the next request would pass). A request presenting a key draws from the key's
bucket and from its address's; one without draws from its address's. ``/health``, ``/ready`` and
``/metrics`` are never limited (probes and scrapes).

Behind a reverse proxy the client address is the proxy's unless uvicorn trusts its
``X-Forwarded-For`` (``--forwarded-allow-ips``): otherwise every shopper shares one bucket.

With a Redis state (``--state redis://...``) the buckets live in Redis (one Lua script, one round
trip per request, Redis's clock), so every worker shares them; otherwise each process keeps its
own (an LRU of at most ``max_clients`` buckets: memory stays bounded whatever clients appear).
Bucket names hold a keyed hash of the key or address, never the key or address itself. If Redis
cannot be reached the request passes (the limit fails open, the service stays up) and one warning
is logged per minute.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shopsage.api.security import ASGIApp, Receive, Scope, Send, presented_key, send_error
from shopsage.errors import HTTP_STATUS, ConfigError, RateLimitError

__all__ = ["RateLimit", "Limits", "Buckets", "MemoryBuckets", "RedisBuckets", "EXEMPT"]

EXEMPT = frozenset({"/health", "/ready", "/metrics"})
log = logging.getLogger("shopsage.api")


@dataclass(frozen=True)
class Limits:
    """Requests per second per API key and per client address (0: no limit), and the bucket size."""

    per_key: float = 0.0
    per_address: float = 0.0
    burst: int | None = None
    """Requests a client may send at once; None: twice the rate, at least 10."""

    def size(self, rate: float) -> float:
        return float(self.burst) if self.burst is not None else max(10.0, 2.0 * rate)

    @property
    def on(self) -> bool:
        return self.per_key > 0 or self.per_address > 0


class Buckets(Protocol):
    def take(self, buckets: Sequence[tuple[str, float, float]]) -> float:
        """Take one token from each ``(name, rate, size)`` bucket if every one has a token: 0.0; else
        take none and return the seconds until all would have one."""
        ...


class MemoryBuckets:
    """The buckets of one process (the event loop calls it: no lock needed)."""

    def __init__(self, max_clients: int = 100_000, clock: Any = time.monotonic) -> None:
        self._b: OrderedDict[str, list[float]] = OrderedDict()
        self._max = max_clients
        self._clock = clock

    def take(self, buckets: Sequence[tuple[str, float, float]]) -> float:
        now = self._clock()
        states = []
        wait = 0.0
        for name, rate, size in buckets:
            st = self._b.get(name)
            if st is None:
                st = [size, now]
                self._b[name] = st
                if len(self._b) > self._max:
                    self._b.popitem(last=False)
            else:
                self._b.move_to_end(name)
                st[0] = min(size, st[0] + (now - st[1]) * rate)
                st[1] = now
            states.append(st)
            if st[0] < 1.0:
                wait = max(wait, (1.0 - st[0]) / rate)
        if wait == 0.0:
            for st in states:
                st[0] -= 1.0
        return wait

    def __len__(self) -> int:
        return len(self._b)


_TAKE_LUA = """
-- KEYS: bucket names. ARGV: rate1, size1, rate2, size2, ... Returns the wait in seconds ('0': taken).
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local tokens, wait = {}, 0
for i, key in ipairs(KEYS) do
  local rate, size = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local v = redis.call('HMGET', key, 't', 'at')
  local n = tonumber(v[1]) or size
  local at = tonumber(v[2]) or now
  n = math.min(size, n + math.max(0, now - at) * rate)
  tokens[i] = n
  if n < 1 then wait = math.max(wait, (1 - n) / rate) end
end
for i, key in ipairs(KEYS) do
  local rate, size = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local n = tokens[i]
  if wait == 0 then n = n - 1 end
  redis.call('HSET', key, 't', tostring(n), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(size / rate * 1000) + 1000)
end
return tostring(wait)
"""


class RedisBuckets:
    """Buckets shared by every worker through the Redis of the state URL (keys ``{prefix}:rl:*``)."""

    def __init__(self, state_url: str) -> None:
        import redis

        from shopsage.state.options import parse_state_url

        options, plain = parse_state_url(state_url, "redis")
        self.prefix = f"{options.prefix}:rl:"
        self._r = redis.Redis.from_url(plain, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._r.register_script(_TAKE_LUA)
        self._errors = redis.RedisError
        self._warned = 0.0

    def take(self, buckets: Sequence[tuple[str, float, float]]) -> float:
        args: list[float] = []
        for _name, rate, size in buckets:
            args += [rate, size]
        try:
            return float(self._script(keys=[self.prefix + name for name, _r, _s in buckets], args=args))
        except self._errors as exc:
            now = time.monotonic()
            if now - self._warned > 60:
                self._warned = now
                log.warning("rate limit not applied: Redis unreachable (%s)", type(exc).__name__)
            return 0.0

    def close(self) -> None:
        self._r.close()


class RateLimit:
    """ASGI middleware: 429 with ``Retry-After`` when a client's bucket is empty (see the module docstring)."""

    def __init__(self, app: ASGIApp, limits: Limits, buckets: Buckets, secret: bytes) -> None:
        if limits.burst is not None and limits.burst < 1:
            raise ConfigError(f"a rate limit burst of {limits.burst} must be at least 1 request")
        self.app = app
        self.limits = limits
        self.buckets = buckets
        self._secret = secret  # names buckets by a keyed hash: no key or address in memory dumps or Redis

    def _name(self, kind: str, value: str) -> str:
        return kind + hmac.digest(self._secret, value.encode("utf-8", "surrogateescape"), "sha256").hex()[:32]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        wanted: list[tuple[str, float, float]] = []
        lim = self.limits
        if lim.per_key > 0:
            key = presented_key({k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])
                                 if k in (b"authorization", b"x-api-key")})
            if key is not None:
                wanted.append((self._name("k:", key), lim.per_key, lim.size(lim.per_key)))
        if lim.per_address > 0:
            client = scope.get("client")
            wanted.append((self._name("a:", client[0] if client else "unknown"), lim.per_address,
                           lim.size(lim.per_address)))
        wait = self.buckets.take(wanted) if wanted else 0.0
        if wait > 0:
            retry = max(1, math.ceil(wait))
            exc = RateLimitError(f"too many requests: retry after {retry} s, or ask for a higher limit "
                                 "(SHOPSAGE_RATE_LIMIT_KEY, SHOPSAGE_RATE_LIMIT_ADDRESS)", retry)
            await send_error(send, HTTP_STATUS[RateLimitError], "RateLimited", str(exc), {"retry-after": str(retry)})
            return
        await self.app(scope, receive, send)
