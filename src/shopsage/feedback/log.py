"""The exposure log: each answer's shown items, written to the store off the request path, in batches.

A request thread only stamps its answer (:meth:`ExposureLog.answered`: the answer's id, each item's
1-based position) and appends its rows to a bounded in-memory queue, a few microseconds; one
background thread per process writes what has queued up every ``flush_s`` (or as soon as
``batch_rows`` are waiting) in one store transaction, on a connection of its own, so a commit's
fsync never stalls an answer.

**What "acknowledged" means for an exposure.** An answer is not a write the client asked for, so
answering does not acknowledge its exposures; they are acknowledged once the writer's transaction
holding them commits (at most ``flush_s`` plus one commit after the answer on an idle store).
Two moments force that earlier:

- an event that names an answer (``context.query_id`` / ``recomm_id``) is acknowledged only after
  that answer's exposures, if this process still holds them, are committed
  (:meth:`ExposureLog.wait_for`, called by the service before it stores the events): no stored event
  ever names an exposure that a crash lost;
- a clean shutdown (:meth:`close`, SIGTERM through the API's lifespan) writes everything queued.

A ``kill -9`` (or a power cut) loses only the exposures not yet committed: answers of the last
``flush_s`` or so that no acknowledged event names. A full queue (the store down for long) drops new
exposures rather than slowing answers, counted in :attr:`ExposureLog.dropped` and logged; a failed
write is retried with the rows kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from typing import Any

from shopsage.data.stores import open_store
from shopsage.data.stores.base import StoreWriter
from shopsage.feedback.ids import new_answer_id
from shopsage.feedback.records import ExposureRow
from shopsage.privacy.cipher import FieldCipher
from shopsage.privacy.scrub import scrub_query

__all__ = ["ExposureLog"]

log = logging.getLogger("shopsage.exposures")

_RETRY_S = 1.0
"""Pause after a failed write before the rows are tried again."""


class ExposureLog:
    """One process's exposure writer; safe to call from any number of request threads."""

    def __init__(self, store: Callable[[], StoreWriter], *, owns_store: bool = True, flush_s: float = 0.25,
                 batch_rows: int = 5_000, max_rows: int = 200_000, enabled: bool = True) -> None:
        self._open = store
        self._owns = owns_store
        self.flush_s = flush_s
        self.batch_rows = batch_rows
        self.max_rows = max_rows
        self.enabled = enabled
        self._rows: deque[tuple[Any, ...]] = deque()  # plain tuples of ExposureRow's fields (see record)
        self._cond = threading.Condition()
        self._queued = 0  # rows ever queued (their sequence numbers are 1..queued)
        self._written = 0  # rows committed, a prefix of the queued ones
        self._pending: dict[str, int] = {}  # answer id -> sequence number of its last row, until written
        self._urgent = 0  # a waiter needs rows up to this sequence number now
        self._stop = False
        self._thread: threading.Thread | None = None
        self._store: StoreWriter | None = None
        self.dropped = 0
        self.failures = 0
        self._warned = 0.0
        self._cipher = FieldCipher.from_env()  # $SHOPSAGE_FIELD_KEY: search queries stored encrypted, as events'

    @classmethod
    def for_store(cls, url: str, shared: Callable[[], StoreWriter], **options: Any) -> ExposureLog:
        """The log of a service whose store is at ``url``: the writer opens a connection of its own (a commit
        never holds the service's connection), except for an in-memory SQLite store, which only ``shared``
        (the service's connection) can reach."""
        if url.startswith("sqlite") and ":memory:" in url:
            return cls(shared, owns_store=False, **options)
        return cls(lambda: open_store(url), owns_store=True, **options)

    # ------------------------------------------------------------------ request side
    def answered(self, answer: dict[str, Any], kind: str, scenario: str, *, user: str | None, session: str | None,
                 first_position: int = 1, propensities: Sequence[float] | None = None,
                 experiment: str | None = None, variant: str | None = None, query: str | None = None,
                 variant_propensity: float | None = None, shown: bool = True) -> str:
        """Stamp ``answer`` (a JSON-ready dict with ``items``, each with an ``id``) with its id (``query_id``
        for search, ``recomm_id`` otherwise) and each item's ``position`` (from ``first_position``), and queue
        its exposures. ``propensities``: the policy's probability of each shown item (None: a deterministic
        list, recorded as 1.0); ``variant_propensity``: the probability the variant had (a bandit-allocated experiment).
        ``query`` (search) is stored scrubbed of personal data (and encrypted with a
        field key), as events' queries are. ``shown=False``: no shopper sees this answer (a merchant's
        preview), so nothing is queued and no later click can be attributed to it. Returns the id."""
        answer_id = new_answer_id()
        items = answer["items"]
        answer["query_id" if kind == "search" else "recomm_id"] = answer_id
        for i, it in enumerate(items):
            it["position"] = first_position + i
        if self.enabled and shown and items:
            now = time.time()
            if query is not None:
                query = scrub_query(query)
                query = query if self._cipher is None else self._cipher.protect_query(query)
            probs = propensities if propensities is not None and len(propensities) == len(items) else None
            self.record([(answer_id, first_position + i, kind, scenario, experiment, variant, user, session,
                          it["id"], 1.0 if probs is None or probs[i] is None else float(probs[i]), now, query,
                          variant_propensity)
                         for i, it in enumerate(items)])
        return answer_id

    def record(self, rows: Sequence[tuple[Any, ...]]) -> bool:
        """Queue rows (:class:`ExposureRow` or plain tuples of its fields) for the writer (never blocks); False
        when the queue is full and they were dropped.

        The request path queues plain tuples of strings and numbers: CPython stops tracking such a tuple at
        its first young collection (a named tuple, a subclass, stays tracked), so rows waiting a flush
        interval add nothing to the old generation whose growth triggers full collections."""
        if not rows:
            return True
        with self._cond:
            if len(self._rows) + len(rows) > self.max_rows:
                self.dropped += len(rows)
                self._warn_dropped()
                return False
            self._rows.extend(rows)
            self._queued += len(rows)
            for r in rows:
                self._pending[r[0]] = self._queued
            if len(self._rows) >= self.batch_rows:
                self._cond.notify_all()
        self._ensure_started()
        return True

    def wait_for(self, answer_ids: Collection[str], timeout: float = 10.0) -> bool:
        """Return once the exposures of ``answer_ids`` this process still holds are committed (at once when
        none is pending); False on timeout. Called before storing events that name those answers."""
        with self._cond:
            target = max((self._pending.get(a, 0) for a in answer_ids), default=0)
        return self._wait(target, timeout)

    def flush(self, timeout: float = 30.0) -> bool:
        """Return once every row queued before the call is committed; False on timeout."""
        with self._cond:
            target = self._queued
        return self._wait(target, timeout)

    def _wait(self, target: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._written >= target:
                return True
            self._urgent = max(self._urgent, target)
            self._cond.notify_all()
            while self._written < target:
                left = deadline - time.monotonic()
                if left <= 0 or (self._thread is None and not self._rows):
                    return self._written >= target
                self._cond.wait(left)
            return True

    @property
    def pending(self) -> int:
        """Rows queued and not yet committed."""
        return self._queued - self._written

    def stats(self) -> dict[str, int]:
        return {"queued": self._queued, "written": self._written, "pending": self.pending, "dropped": self.dropped,
                "failures": self.failures}

    # ------------------------------------------------------------------ the writer
    def start(self) -> ExposureLog:
        """Open the writer's store connection and start its thread now (else the first answer does): the
        first answers after a start are then committed as fast as any."""
        if self.enabled and self._store is None:
            self._store = self._open()
        self._ensure_started()
        return self

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._cond:
                if self._thread is None and not self._stop:
                    self._thread = threading.Thread(target=self._run, name="shopsage-exposures", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                due = time.monotonic() + self.flush_s
                while not self._stop and len(self._rows) < self.batch_rows and self._urgent <= self._written:
                    left = due - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = [self._rows[i] for i in range(min(len(self._rows), self.batch_rows))]
                stopping = self._stop
            if batch and not self._write(batch):
                if stopping:
                    return  # close() gave up on a store that keeps failing (logged)
                time.sleep(_RETRY_S)
                continue
            if stopping and not batch:
                return

    def _write(self, batch: list[tuple[Any, ...]]) -> bool:
        try:
            if self._store is None:
                self._store = self._open()
            res = self._store.write_exposures([r if type(r) is ExposureRow else ExposureRow(*r) for r in batch])
        except Exception:  # noqa: BLE001 - keep the rows and try again: the store may come back
            self.failures += 1
            log.exception("writing %d exposures failed; they stay queued and are retried", len(batch))
            return False
        if res.conflicts:
            log.warning("%d exposures refused by the store: %s", len(res.conflicts), res.conflicts[0][1])
        with self._cond:
            for _ in batch:
                self._rows.popleft()
            self._written += len(batch)
            for r in batch:
                if self._pending.get(r[0], 0) <= self._written:
                    self._pending.pop(r[0], None)
            self._cond.notify_all()
        return True

    def _warn_dropped(self) -> None:
        now = time.monotonic()
        if now - self._warned > 10.0:
            self._warned = now
            log.warning("exposure queue full (%d rows): %d exposures dropped so far; is the store reachable?",
                        self.max_rows, self.dropped)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued (up to ``timeout``), stop the writer, close its store connection."""
        self.flush(timeout)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self.pending:
            log.warning("%d exposures were not written before shutdown", self.pending)
        if self._owns and self._store is not None:
            close = getattr(self._store, "close", None)
            if close is not None:
                close()
        self._store = None
