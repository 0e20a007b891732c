"""API keys, request size limits and the access log (which never holds personal data).

No keys configured (the demo): every route is open and the server listens on 127.0.0.1 only.
``SHOPSAGE_API_KEYS`` set: writes (events, items, admin) need one of them, else 401 (no key) or
403 (a key without the right). ``SHOPSAGE_READ_KEYS`` set as well: reads need a read or write key.
A key comes as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

__all__ = ["Keys", "require_read", "require_write", "BodyLimit", "AccessLog", "LOOPBACK"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True)
class Keys:
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()

    @property
    def open(self) -> bool:
        return not self.write and not self.read


def _presented(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def _match(key: str, keys: tuple[str, ...]) -> bool:
    return any(hmac.compare_digest(key.encode(), k.encode()) for k in keys)


def _check(request: Request, write: bool) -> None:
    keys: Keys = request.app.state.keys
    if keys.open or (not write and not keys.read):
        return
    key = _presented(request)
    if key is None:
        raise HTTPException(401, "this route needs an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                            headers={"WWW-Authenticate": "Bearer"})
    allowed = keys.write if write else keys.write + keys.read
    if not _match(key, allowed):
        raise HTTPException(403, "this key may not " + ("write: use a key from SHOPSAGE_API_KEYS" if write
                                                         else "read: use a key from SHOPSAGE_READ_KEYS or SHOPSAGE_API_KEYS"))


async def require_read(request: Request) -> None:
    _check(request, write=False)


async def require_write(request: Request) -> None:
    _check(request, write=True)


class BodyLimit:
    """Refuse request bodies above ``max_bytes`` with 413, before the route reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
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
                    await _too_large(send, self.max_bytes)
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
            await _too_large(send, self.max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Callable[[dict[str, Any]], Awaitable[None]], limit: int) -> None:
    body = (b'{"error":"PayloadTooLarge","message":"the request body is larger than '
            + str(limit).encode() + b' bytes: send fewer events or items per request"}')
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One line per request: method, route template (never the raw path or query: they hold user and
    session ids), status and time; plus the Prometheus histogram."""

    def __init__(self, app: ASGIApp, observe: Callable[[str, str, int, float], None]) -> None:
        self.app = app
        self.observe = observe
        self.log = logging.getLogger("shopsage.access")
        self.worker = str(os.getpid()).encode()  # which worker answered (multi-worker debugging)

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
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
