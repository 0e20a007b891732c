"""Who may call what: scoped API keys, shopper tokens; request size and read-time limits; the access log.

Keys come as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` and are compared in constant time;
they are never logged. Scopes nest: an admin key may do anything, a write key may write and read, a
read key may read.

=====================  =======================================================================
configured             who may call
=====================  =======================================================================
no keys (the demo)     everyone; ``shopsage serve`` then listens on 127.0.0.1 only
``SHOPSAGE_API_KEYS``  events: a write key (401 without a key, 403 with a key of a lesser scope);
                       catalogue writes, reload, user deletion, a variant's preview
                       (``?variant=``): an admin key (``SHOPSAGE_ADMIN_KEYS``,
                       or a write key while no admin keys are set); shared reads (search,
                       trending, items): anyone; **per-user reads** (a profile, recommendations or
                       search for a ``user``): a key or a shopper token for that user
+ ``SHOPSAGE_READ_KEYS``  every read needs a key (or, per-user reads, a shopper token)
=====================  =======================================================================

A **shopper token** (``X-Shopper-Token: TOKEN``, issued by ``POST /v1/users/{id}/token`` with a write
key, or by :meth:`shopsage.privacy.ids.Pseudonymizer.issue_shopper_token`) lets a storefront read
its own shopper's profile and recommendations without holding an API key.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import HTTPException, Request

from shopsage.errors import HTTP_STATUS, RequestTimeoutError
from shopsage.settings import Settings

__all__ = ["Keys", "require_read", "require_write", "require_admin", "require_scope", "require_user_read", "BodyLimit",
           "ReadTimeout", "AccessLog", "LOOPBACK", "presented_key", "send_error"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_HEADER = "x-shopper-token"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Level = Literal["read", "write", "admin"]


@dataclass(frozen=True)
class Keys:
    """The configured keys by scope (see the module docstring)."""

    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    admin: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> Keys:
        return cls(write=settings.api_keys, read=settings.read_keys, admin=settings.admin_keys)

    @property
    def open(self) -> bool:
        return not self.write and not self.read and not self.admin

    def allowed(self, level: Level) -> tuple[str, ...]:
        """Every key that may act at ``level`` (write keys are the admin keys while none is set)."""
        admin = self.admin or self.write
        if level == "admin":
            return admin
        return admin + self.write if level == "write" else admin + self.write + self.read


def presented_key(headers: Any) -> str | None:
    """The API key a request presents (``headers``: Starlette headers or a dict of lower-case names)."""
    auth = headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return headers.get("x-api-key") or None


def _match(key: str, keys: tuple[str, ...]) -> bool:
    given = key.encode("utf-8", "surrogateescape")
    found = False
    for k in keys:  # every key compared: the time does not say which one matched
        found |= hmac.compare_digest(given, k.encode())
    return found


_WHERE = {"read": "SHOPSAGE_READ_KEYS, SHOPSAGE_API_KEYS or SHOPSAGE_ADMIN_KEYS",
          "write": "SHOPSAGE_API_KEYS or SHOPSAGE_ADMIN_KEYS",
          "admin": "SHOPSAGE_ADMIN_KEYS (or SHOPSAGE_API_KEYS while no admin keys are set)"}


def _unauthorized(what: str) -> HTTPException:
    return HTTPException(401, f"{what}: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                         headers={"WWW-Authenticate": "Bearer"})


def _check(request: Request, level: Level, what: str | None = None) -> None:
    keys: Keys = request.app.state.keys
    if keys.open or (level == "read" and not keys.read):
        return
    key = presented_key(request.headers)
    if key is None:
        raise _unauthorized(f"{what or 'this route'} needs an API key")
    if not _match(key, keys.allowed(level)):
        needs = f"{what} needs {'an' if level == 'admin' else 'a'} {level} key" if what else f"this key may not {level}"
        raise HTTPException(403, f"{needs}: use a key from {_WHERE[level]}")


def require_scope(request: Request, level: Level, what: str) -> None:
    """Inside a route: one use of it (``what``, e.g. "previewing a variant") needs more than the route's scope."""
    _check(request, level, what)


async def require_read(request: Request) -> None:
    _check(request, "read")


async def require_write(request: Request) -> None:
    _check(request, "write")


async def require_admin(request: Request) -> None:
    _check(request, "admin")


def require_user_read(request: Request, user: str | None) -> None:
    """A read about one user (``user``: the raw id of the request): a key of any scope, or a valid
    shopper token for that user. Open when no keys are configured."""
    keys: Keys = request.app.state.keys
    if user is None or keys.open:
        return
    token = request.headers.get(TOKEN_HEADER)
    if token is not None and request.app.state.ids.verify_shopper_token(token, user):
        return
    key = presented_key(request.headers)
    if key is None:
        raise _unauthorized("reading a user's data needs an API key or a shopper token for that user "
                            "('X-Shopper-Token: TOKEN', from POST /v1/users/{id}/token)"
                            + (" (the one sent is expired or for another user)" if token is not None else ""))
    if not _match(key, keys.allowed("read")):
        raise HTTPException(403, f"this key may not read: use a key from {_WHERE['read']}")


async def send_error(send: Send, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
    """A ``{"error", "message", "detail"}`` answer written by a middleware (before any route ran)."""
    import json

    body = json.dumps({"error": error, "message": message, "detail": None}).encode()
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies above ``max_bytes`` with 413, before the route reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._too_large(send)
                    return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge()
            return msg

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        await send_error(send, 413, "PayloadTooLarge", f"the request body is larger than {self.max_bytes} bytes: "
                         "send fewer events or items per request", {"connection": "close"})


class _BodyTooLarge(Exception):
    pass


class ReadTimeout:
    """408 when a request body has not wholly arrived ``timeout_s`` after the request began (a body
    shorter than its Content-Length, a client dripping bytes): on timeout the 408 is sent (with
    ``connection: close``), the route sees a disconnect and whatever it answers is dropped."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        done = False  # the body has arrived: later receives wait for a disconnect, unbounded
        started = False
        timed_out = False
        deadline = asyncio.get_running_loop().time() + self.timeout_s

        async def bounded() -> dict[str, Any]:
            nonlocal done, started, timed_out
            if done:
                return await receive()
            try:
                msg = await asyncio.wait_for(receive(), max(0.0, deadline - asyncio.get_running_loop().time()))
            except TimeoutError:
                done = True
                if not started:
                    timed_out = started = True
                    exc = RequestTimeoutError(f"the request body did not arrive within {self.timeout_s:g} s (is it "
                                              "shorter than its Content-Length?): send the whole body at once")
                    await send_error(send, HTTP_STATUS[RequestTimeoutError], "RequestTimeout", str(exc),
                                     {"connection": "close"})
                return {"type": "http.disconnect"}
            if msg["type"] != "http.request" or not msg.get("more_body", False):
                done = True
            return msg

        async def sending(msg: dict[str, Any]) -> None:
            nonlocal started
            if timed_out:
                return  # the 408 is the answer
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        await self.app(scope, bounded, sending)


class AccessLog:
    """One line per request: method, route template (never the raw path or query: they hold user and
    session ids), status and time; plus the Prometheus histogram."""

    def __init__(self, app: ASGIApp, observe: Callable[[str, str, int, float], None]) -> None:
        self.app = app
        self.observe = observe
        self.log = logging.getLogger("shopsage.access")
        self.worker = str(os.getpid()).encode()  # which worker answered (multi-worker debugging)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def sending(msg: dict[str, Any]) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = int(msg["status"])
                msg = {**msg, "headers": [*msg.get("headers", []), (b"x-worker", self.worker)]}
            await send(msg)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            dt = time.perf_counter() - t0
            self.observe(scope["method"], template, status, dt)
            self.log.info("%s %s %d %.1fms", scope["method"], template, status, dt * 1000)
