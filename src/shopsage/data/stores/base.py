"""The store interface: one shop's catalogue, users, events, judgments, documents, quarantine.

Read and write are split into two narrow protocols; every backend (SQLite, PostgreSQL)
implements both and passes the one contract suite in :mod:`shopsage.testing.store_contract`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from shopsage.data.rows import (
    DocumentRow,
    EventBlock,
    EventRow,
    ItemRow,
    JudgmentRow,
    QuarantineRow,
    WriteResult,
)
from shopsage.data.schema import EVENT_TYPES
from shopsage.feedback.records import AttributedEvent, ExposureRow

__all__ = ["StoreReader", "StoreWriter", "Store", "StoreStats", "Interactions", "TYPE_CODES", "SPLIT_CODES",
           "IngestOutcome", "UnknownItems", "UNKNOWN_ITEMS"]

TYPE_CODES: dict[str, int] = {t: i for i, t in enumerate(EVENT_TYPES)}
SPLIT_CODES: dict[str | None, int] = {None: -1, "train": 0, "valid": 1, "test": 2}

UnknownItems = Literal["reject", "quarantine", "accept"]
UNKNOWN_ITEMS: tuple[str, ...] = ("reject", "quarantine", "accept")
"""What a live event naming an item the store has no row for does: ``reject`` the request (422),
``quarantine`` the event (kept with its reason, the rest of the request is stored), or ``accept``
it and create a placeholder item (bulk imports of sessions data sets, which have no catalogue)."""


@dataclass
class IngestOutcome:
    """What :meth:`StoreWriter.ingest_events` did with one API request, or the answer it recorded.

    ``inserted`` holds the batch positions of the events this call stored (empty on a replay):
    only those are applied to the live state."""

    accepted: int
    duplicates: int
    quarantined: int = 0
    replayed: bool = False
    inserted: list[int] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        """The HTTP answer: counts, and whether it repeats a recorded request."""
        return {"accepted": self.accepted, "duplicates": self.duplicates, "quarantined": self.quarantined,
                "replayed": self.replayed}


@dataclass
class StoreStats:
    """Exact counts of what a store holds."""

    users: int
    items: int
    events: int
    events_by_type: dict[str, int]
    events_by_split: dict[str, int]
    sessions: int
    sessions_by_split: dict[str, int]
    judgments: int
    judged_queries: int
    documents: int
    quarantined: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    events_per_user: dict[str, float] = field(default_factory=dict)
    events_per_session: dict[str, float] = field(default_factory=dict)
    events_per_item: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Interactions:
    """Events as columns, in the store's canonical order (user/session, then time or ordinal).

    ``user`` and ``item`` are the store's row ids (not yet contiguous; see
    :mod:`shopsage.data.splits` for the vocabularies handed to models). ``session`` holds
    integer codes into ``session_names``. Missing values are ``-1`` (ids, ordinal, split)
    or ``nan`` (ts, value).
    """

    event_id: np.ndarray  # (N,) int64
    user: np.ndarray  # (N,) int64
    session: np.ndarray  # (N,) int64
    item: np.ndarray  # (N,) int64
    type: np.ndarray  # (N,) int8, codes of TYPE_CODES
    ts: np.ndarray  # (N,) float64
    ordinal: np.ndarray  # (N,) int64
    split: np.ndarray  # (N,) int8, codes of SPLIT_CODES
    value: np.ndarray  # (N,) float64
    session_names: list[str]

    def __len__(self) -> int:
        return int(self.event_id.shape[0])

    def select(self, mask: np.ndarray) -> Interactions:
        return Interactions(
            self.event_id[mask], self.user[mask], self.session[mask], self.item[mask], self.type[mask],
            self.ts[mask], self.ordinal[mask], self.split[mask], self.value[mask], self.session_names,
        )


@runtime_checkable
class StoreReader(Protocol):
    url: str

    def stats(self) -> StoreStats: ...

    def items(self, ext_ids: Sequence[str] | None = None) -> Iterator[tuple[int, ItemRow]]: ...

    def item_ids(self) -> dict[str, int]: ...

    def user_ids(self) -> dict[str, int]: ...

    def interactions(self, types: Sequence[str] | None = None, split: str | None = None, after: int = 0) -> Interactions:
        """Stored events as columns; with ``after``, only those whose ``event_id`` is larger: the ones stored
        since a reader saw ``event_id`` ``after`` (ids grow in commit order, so none is skipped; events with
        old timestamps that arrive late are in). Erasure deletes events, and SQLite may give a deleted last
        id out again: a reader that finds a new record in :meth:`erasures` reads everything again."""
        ...

    def query_events(self, types: Sequence[str]) -> list[tuple[str, str]]: ...

    def judgments(self) -> list[tuple[str, str, float]]: ...

    def documents(self) -> Iterator[tuple[int, DocumentRow]]: ...

    def quarantined(self, limit: int = 100, offset: int = 0) -> list[QuarantineRow]: ...

    def event_rows(self, source: str, lines: Sequence[int]) -> list[EventRow]: ...

    def imports(self) -> list[tuple[str, str]]: ...

    def user_sessions(self, user: str) -> list[str]:
        """Every session id the user's stored events name."""
        ...

    def erasures(self, after: int = 0) -> list[tuple[int, str, list[str]]]:
        """Erasures audited after record ``after``: ``(record id, user hash, session hashes)``, oldest first
        (a service drops those shoppers from the history it loaded)."""
        ...

    def read_exposures(self, experiment: str | None = None, since: float | None = None) -> Iterator[ExposureRow]:
        """Exposures (of ``experiment``, at or after ``since`` epoch s) by time, then id and position."""
        ...

    def read_attributed(self, experiment: str | None = None, since: float | None = None) -> Iterator[AttributedEvent]:
        """Clicks, carts and purchases (at or after ``since``) with the exposure each is attributed to
        (:mod:`shopsage.feedback.attribution`); with ``experiment``, those attributed to its exposures."""
        ...

    def experiments(self, name: str | None = None) -> list[dict[str, Any]]:
        """Stored experiment definitions (JSON objects, :class:`shopsage.experiments.ExperimentConfig`'s
        fields), oldest first; only ``name``'s when given (empty when unknown)."""
        ...


@runtime_checkable
class StoreWriter(Protocol):
    url: str

    def transaction(self) -> AbstractContextManager[None]: ...

    def write_items(self, rows: Sequence[ItemRow]) -> WriteResult: ...

    def write_events(self, rows: Sequence[EventRow] | EventBlock) -> WriteResult: ...

    def write_judgments(self, rows: Sequence[JudgmentRow]) -> WriteResult: ...

    def write_documents(self, rows: Sequence[DocumentRow]) -> WriteResult: ...

    def write_quarantine(self, rows: Sequence[QuarantineRow]) -> WriteResult: ...

    def record_import(self, fmt: str, path: str, summary: dict[str, Any]) -> None: ...

    def ingest_events(self, rows: Sequence[EventRow], *, request_key: str | None = None, digest: str | None = None,
                      unknown_items: UnknownItems = "quarantine", stamped: Sequence[int] = ()) -> IngestOutcome:
        """One live API request, exactly once, in one transaction: the events and, with a
        ``request_key``, the request's record (its ``digest`` and answer). A recorded key answers
        from the record (``IdempotencyKeyReusedError`` when ``digest`` differs); an event id stored
        with other content is an ``EventConflictError`` naming both (nothing of the request is
        stored); ``stamped`` positions carry a server-given timestamp that is no part of their content."""
        ...

    def erase_user(self, user_ext_id: str) -> dict[str, int]:
        """Delete the user's events, their sessions' events, their users row, the digests of their
        requests, their API quarantine rows and the exposures shown to them or their sessions, and write
        an audit record (a hash of the id), in one transaction; returns the counts. The user and their
        sessions stay erased: the store keeps their hashes as tombstones and stores no event or exposure
        of them again, from any write path (:mod:`shopsage.data.stores.tombstones`)."""
        ...

    def lift_erasure(self, user_ext_id: str) -> dict[str, int]:
        """Delete the tombstones of the user's erasures (with an audit record), so their events are stored
        again; returns ``{"users": n, "sessions": n}`` removed. Only with the shopper's consent."""
        ...

    def prune_requests(self, before: float) -> int:
        """Forget the exactly-once records of requests made before ``before`` (epoch s): a retry of one is
        then a new request. Returns how many went."""
        ...

    def write_exposures(self, rows: Sequence[ExposureRow]) -> WriteResult:
        """Store what answers showed, one row per ``(exposure_id, position)``: an identical row counts as
        present, a stored key with other content (or an invalid row) is a conflict."""
        ...

    def write_experiment(self, definition: dict[str, Any], replace: bool = False) -> None:
        """Store an experiment's definition; a name already stored is refused unless ``replace``."""
        ...

    def stop_experiment(self, name: str) -> float:
        """Mark the experiment stopped (idempotent); returns the stop time."""
        ...


class Store(StoreReader, StoreWriter, Protocol):
    """A store is both; ``close()`` releases its connection."""

    def close(self) -> None: ...
