"""What the routers share: the service of this process and the edge's pseudonymizer.

Routes are plain ``def`` functions: FastAPI runs them in its thread pool, so store and Redis work
(a slow write, a catalogue sync) never blocks the event loop that answers ``/health`` and the others.
"""

from __future__ import annotations

from fastapi import Request

from shopsage.errors import StoreError
from shopsage.privacy.ids import Pseudonymizer
from shopsage.serving.service import Service

__all__ = ["current", "ids"]


def current(request: Request) -> Service:
    """The process's service (call it from a ``def`` route: with a shared state it first applies other
    workers' item changes, which reads Redis and the store)."""
    svc: Service | None = getattr(request.app.state, "service", None)
    if svc is None or not svc.started:
        raise StoreError("the service is still starting: retry in a moment (GET /ready says when it is ready)")
    if request.app.state.shared_state:
        svc.sync()
    return svc


def ids(request: Request) -> Pseudonymizer:
    """The one pseudonymizer of the app: every user and session id from a request goes through it."""
    return request.app.state.ids  # type: ignore[no-any-return]
