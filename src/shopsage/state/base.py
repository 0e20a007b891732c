"""The state interface: what the service remembers between requests, shared by every worker.

A :class:`StateStore` holds each session's and each user's recent interactions, the items a user
bought, which event ids were already applied (idempotency), live popularity counts and a catalogue
change log (so an item update made through one worker is seen by the others). Backends are
opened by URL (:func:`shopsage.state.open_state`): ``memory://`` (in-process, the default) and
``redis://host:port/db`` (shared between workers and processes). Only external ids are stored.
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
        """Mark event ids as applied; ``True`` for each id not applied before (atomic per id)."""
        ...

    def release(self, event_ids: Sequence[str]) -> None:
        """Forget claims (a request that failed after claiming must be retried in full)."""
        ...

    def record(self, user: str | None, session: str | None, touches: Sequence[Touch]) -> None:
        """Append interactions of one user and/or session (purchases also join the bought set)."""
        ...

    def session_touches(self, session: str, n: int = RECENT_LIMIT) -> list[Touch]:
        """The session's most recent interactions, newest first."""
        ...

    def user_touches(self, user: str, n: int = RECENT_LIMIT) -> list[Touch]:
        """The user's most recent interactions, newest first."""
        ...

    def purchased(self, user: str) -> set[str]:
        """Every item the user bought since the state was created."""
        ...

    def bump_popularity(self, counts: dict[str, float]) -> None:
        """Add live interaction weight per item (feeds ``trending``)."""
        ...

    def popularity(self, top: int) -> list[tuple[str, float]]:
        """The ``top`` items by live weight, heaviest first."""
        ...

    def publish_catalog(self, ext_ids: Sequence[str]) -> int:
        """Record that these items changed; returns the new catalogue version."""
        ...

    def catalog_changes(self, since: int) -> tuple[int, list[str]]:
        """``(current version, ids changed after version since)``."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
