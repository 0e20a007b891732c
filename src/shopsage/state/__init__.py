"""Session and profile state, by URL: ``memory://`` (in-process default) or ``redis://host:port/db``.

Options ride in the URL's query, e.g. ``memory://?session_ttl=1800&max_sessions=200000`` or
``redis://127.0.0.1:6379/0?session_ttl=1800&prefix=shop``; every option, its default and its
meaning are in :mod:`shopsage.state.options` (a bad value is a ``StoreURLError`` naming it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shopsage.errors import StoreURLError
from shopsage.state.base import RECENT_LIMIT, StateStore, Touch
from shopsage.state.memory import MemoryState
from shopsage.state.options import StateOptions

__all__ = ["open_state", "StateStore", "StateOptions", "Touch", "MemoryState", "RECENT_LIMIT", "DEFAULT_STATE_URL"]

DEFAULT_STATE_URL = "memory://"


def open_state(url: str = DEFAULT_STATE_URL, clock: Callable[[], float] = time.time) -> StateStore:
    """Open the state at ``url``; ``clock`` (Unix seconds) sets expiries and the popularity window."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        return MemoryState(url, clock=clock)
    if scheme in ("redis", "rediss", "unix"):
        from shopsage.state.redis_state import RedisState

        return RedisState(url, clock=clock)
    raise StoreURLError(f"unknown state URL {url!r}: use memory:// (in-process, the default) or "
                        "redis://127.0.0.1:6379/0 (shared between workers)")
