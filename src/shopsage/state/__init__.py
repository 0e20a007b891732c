"""Session and profile state, by URL: ``memory://`` (in-process default) or ``redis://host:port/db``."""

from __future__ import annotations

from shopsage.errors import StoreURLError
from shopsage.state.base import RECENT_LIMIT, StateStore, Touch
from shopsage.state.memory import MemoryState

__all__ = ["open_state", "StateStore", "Touch", "MemoryState", "RECENT_LIMIT", "DEFAULT_STATE_URL"]

DEFAULT_STATE_URL = "memory://"


def open_state(url: str = DEFAULT_STATE_URL) -> StateStore:
    """Open the state at ``url``; ``redis://...?prefix=NAME`` namespaces the keys."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        return MemoryState(url)
    if scheme in ("redis", "rediss", "unix"):
        from shopsage.state.redis_state import RedisState

        return RedisState(url)
    raise StoreURLError(f"unknown state URL {url!r}: use memory:// (in-process, the default) or "
                        "redis://127.0.0.1:6379/0 (shared between workers)")
