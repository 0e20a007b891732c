"""The service's segments: fitted from the store on start, kept current by every stored event.

A start resumes the snapshot the last start left (:mod:`shopsage.profiles.segments_snapshot`) with the
interactions stored since, when that is exactly what a replay of all of them would give, so its cost
follows what arrived since rather than the shop's whole history.

The book (:class:`~shopsage.profiles.segments_book.SegmentBook`) lives in the worker's memory: a
worker sees the events it stored itself at once and the other workers' at its next start (the
thresholds are the shop's rhythm, which a few minutes of events do not move; a shopper's own
recency and frequency do, and the worker that took their events has them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shopsage.data.schema import Event
from shopsage.data.stores.base import StoreReader
from shopsage.profiles.segments import Assignment, SegmentConfig
from shopsage.profiles.segments_book import SegmentBook, SegmentEvent, book_from_store
from shopsage.profiles.segments_snapshot import resume_book
from shopsage.serving.catalog import ServingCatalog

__all__ = ["LiveSegments"]


class LiveSegments:
    """Segments of one service process (None until :meth:`fit`)."""

    def __init__(self, config: SegmentConfig | None = None) -> None:
        self.config = config or SegmentConfig.model_validate({})
        self.book: SegmentBook | None = None
        self.how = ""
        """How the last fit was made (a full replay and why, or a resumed snapshot)."""

    def fit(self, store: StoreReader, catalog: ServingCatalog, snapshots: Path | None = None) -> SegmentBook:
        """The batch path: every stored user interaction replayed, thresholds and centres learned; with
        ``snapshots`` (a folder), the last snapshot plus the interactions since when exact, and a new one."""
        if snapshots is None:
            self.book, self.how = book_from_store(store, catalog.info, self.config), "replayed all interactions"
        else:
            self.book, self.how = resume_book(store, catalog.info, snapshots, self.config)
        return self.book

    def observe(self, events: Sequence[Event]) -> None:
        """The incremental path (an ingest listener): each stored event with a user and an item."""
        book = self.book
        if book is None:
            return
        for e in events:
            if e.user is not None and e.item is not None:  # an ordinal-only event counts with no time (none invented)
                book.observe(SegmentEvent(e.user, e.item, e.type, e.timestamp, e.value))

    def of(self, user: str) -> Assignment | None:
        """The shopper's segments with their evidence; None when unknown or not fitted."""
        return None if self.book is None else self.book.segment_of(user)

    def forget(self, user: str) -> None:
        if self.book is not None:
            self.book.forget(user)
