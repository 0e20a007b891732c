"""The state interface: what the service remembers between requests, shared by every worker.

A :class:`StateStore` holds each session's and each user's recent interactions, the items a user
bought, which event ids were already applied (idempotency), live popularity counts and a catalogue
change log (so an item update made through one worker is seen by the others). Backends are
opened by URL (:func:`shopsage.state.open_state`): ``memory://`` (in-process, the default) and
``redis://host:port/db`` (shared between workers and processes). Only external ids are stored.

The state is a bounded cache in front of the store, which keeps the full history: sessions, users,
claimed ids and popularity buckets expire and are capped (:mod:`shopsage.state.options`), so its
memory stays flat however many distinct sessions arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = ["Touch", "StateStore", "RECENT_LIMIT"]

RECENT_LIMIT = 200
"""Interactions kept per session and per user (older ones fall off)."""


class Touch(NamedTuple):
    """One interaction as the state keeps it: an item, the event type and when (Unix seconds)."""

    item: str
    type: str
    ts: float


@runtime_checkable
class StateStore(Protocol):
    url: str

    def claim(self, event_ids: Sequence[str]) -> list[bool]:
        """Mark event ids as applied; ``True`` for each id not applied before (atomic per id).
        A claim is remembered ``claim_ttl`` seconds, at most ``max_claims`` of them."""
        ...

    def release(self, event_ids: Sequence[str]) -> None:
        """Forget claims (a request that failed after claiming must be retried in full)."""
        ...

    def record(self, user: str | None, session: str | None, touches: Sequence[Touch]) -> None:
        """Append interactions of one user and/or session (purchases also join the bought set)."""
        ...

    def record_many(self, batch: Sequence[tuple[str | None, str | None, Sequence[Touch]]]) -> None:
        """:meth:`record` for each ``(user, session, touches)`` of a request, at once (one round trip)."""
        ...

    def session_touches(self, session: str, n: int = RECENT_LIMIT) -> list[Touch]:
        """The session's most recent interactions, newest first."""
        ...

    def user_touches(self, user: str, n: int = RECENT_LIMIT) -> list[Touch]:
        """The user's most recent interactions, newest first."""
        ...

    def purchased(self, user: str) -> set[str]:
        """The items the user bought while the user was live in the state (``user_ttl``)."""
        ...

    def forget(self, user: str | None, sessions: Sequence[str]) -> None:
        """Remove everything held about ``user`` and ``sessions``: interactions, bought set and every
        key that names them (erasure; aggregate popularity names no one and stays)."""
        ...

    def bump_popularity(self, counts: dict[str, float]) -> None:
        """Add live interaction weight per item (feeds ``trending``); each window bucket keeps its
        ``max_items`` heaviest items."""
        ...

    def popularity(self, top: int) -> list[tuple[str, float]]:
        """The ``top`` items by live weight over the last ``pop_window`` seconds, heaviest first."""
        ...

    def popularity_since(self) -> float | None:
        """Unix time the live weights count from (the oldest bucket still in the window, or the
        state's start if later); ``None`` when nothing is counted."""
        ...

    def publish_catalog(self, ext_ids: Sequence[str]) -> int:
        """Record that these items changed; returns the new catalogue version."""
        ...

    def catalog_changes(self, since: int) -> tuple[int, list[str] | None]:
        """``(current version, ids changed after version since)``. The log keeps the newest ``max_changes``
        (:mod:`shopsage.state.options`): for a ``since`` older than that, or newer than the version (a
        state that was emptied), the ids are ``None``: the reader missed changes and must re-read the
        whole catalogue."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
