"""Erasure that stays erased: the tombstones of erased users and sessions in a SQL store.

An erasure (:func:`shopsage.data.stores.ledger.erase_user`) writes, in its transaction, one row per
erased user and per session of theirs into ``tombstones`` (migration 6), keyed by the hash the audit
log keeps (:func:`subject_hash`: a SHA-256 of a pseudonym, never the id). Every write of events or exposures (file imports, ``POST /v1/events``, UBI imports) asks
:func:`erased_positions` first and stores none of the rows whose user or session is buried:

- ``write_events`` / ``write_exposures`` report them as conflicts with :data:`ERASED_REASON`, which
  the import runner quarantines; ``write_quarantine`` keeps such a row *redacted*
  (:data:`REDACTED_RAW` instead of the line: no id, no content), and so any other rejected row whose
  reason or text names a buried id as a whole word (a robot-filter reject names its shopper;
  :func:`redact`). A line an importer could not parse holds the id as the file wrote it, before
  pseudonymisation: the store cannot recognise that one (``shopsage users delete`` does not find it
  either); shops fix or drop such lines from their files;
- the live ingest quarantines them the same way and counts them in the answer's ``quarantined``.

Readers (training, the service) cannot see what was never stored. Erasure and writes are serialised:
SQLite has one writer at a time; PostgreSQL writers take a shared advisory lock and an erasure an
exclusive one (:meth:`~shopsage.data.stores.sql.SqlStore._erasure_lock`), so a write that checked the
tombstones before an erasure committed cannot store its rows after the erasure deleted the others.

**Lifting a tombstone.** A shopper who comes back and consents gets a new account id: its pseudonym
is another hash, nothing blocks it, and nothing links it to the erased one. When a shop must accept the
*same* id again (it reopened the account with the shopper's consent), ``shopsage users lift-erasure ID``
(:func:`lift`) deletes the tombstones of that user's erasures, with an audit record; their old
sessions' tombstones go too, so re-importing an old export brings the old events back: lift only
with that consent, and re-import only what the shopper agreed to.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from shopsage.data.rows import QuarantineRow

if TYPE_CHECKING:
    from shopsage.data.stores.sql import SqlStore

__all__ = ["subject_hash", "ERASED_REASON", "REDACTED_RAW", "erased_positions", "redact", "bury", "lift", "backfill",
           "is_erasure_reason"]

ERASED_REASON = ("erased: the event's user or session was erased (shopsage users delete); it is not stored and "
                 "its content is not kept. Leave such events out; to accept this shopper again, see "
                 "`shopsage users lift-erasure`")
"""The conflict and quarantine reason of a row of an erased user or session: it names no id."""
REDACTED_RAW = "(redacted: the row named an erased user or session)"
"""What the quarantine keeps of such a row instead of its text."""

_CHUNK = 900
_WORD = re.compile(r"[\w.@+:-]+")  # an id as a whole word of a reason or a raw line (the erasure's rule too)


def subject_hash(kind: str, ext_id: str) -> str:
    """The audit log's and the tombstones' reference to a user or session: a SHA-256 of the kind and the
    id (not reversible; with ids pseudonymised at the edge it hashes a keyed hash), so "was X erased?"
    can be answered."""
    return hashlib.sha256(f"shopsage:{kind}:{ext_id}".encode("utf-8", "surrogatepass")).hexdigest()


def is_erasure_reason(reason: str) -> bool:
    return reason.startswith("erased:")


def _any(store: SqlStore) -> bool:
    return bool(store._query("SELECT 1 FROM tombstones LIMIT 1"))


def _buried(store: SqlStore, hashes: Sequence[str]) -> set[str]:
    """The buried ones of ``hashes``: every tombstone read at once when there are fewer of them (the usual
    case: erasures are rare), else a look-up of the hashes."""
    if store._query("SELECT COUNT(*) FROM tombstones")[0][0] <= len(hashes):
        every = {str(h) for (h,) in store._query("SELECT subject FROM tombstones")}
        return every.intersection(hashes)
    return {str(h) for (h,) in store._lookup("tombstones", "subject", list(hashes), "subject")}


def erased_positions(store: SqlStore, users: Sequence[str | None], sessions: Sequence[str | None]) -> list[int]:
    """Positions ``i`` whose ``users[i]`` or ``sessions[i]`` is buried (inside the caller's transaction,
    after its shared erasure lock). One query when the store buried no one, the common case; else one
    hash per distinct id and a look-up of those hashes."""
    store._erasure_lock(exclusive=False)
    if not _any(store):
        return []
    by_user = {u: subject_hash("user", u) for u in set(users) if u is not None}
    by_session = {s: subject_hash("session", s) for s in set(sessions) if s is not None}
    dead = _buried(store, [*by_user.values(), *by_session.values()])
    if not dead:
        return []
    return [i for i, (u, s) in enumerate(zip(users, sessions, strict=True))
            if (u is not None and by_user[u] in dead) or (s is not None and by_session[s] in dead)]


def redact(store: SqlStore, rows: Sequence[QuarantineRow]) -> list[QuarantineRow]:
    """``rows`` as the quarantine may keep them: a row with :data:`ERASED_REASON`, or whose reason or text
    names a buried user or session as a whole word, becomes a redacted erasure row (inside the caller's
    transaction)."""
    out = [QuarantineRow(r.key, ERASED_REASON, REDACTED_RAW) if is_erasure_reason(r.reason) else r for r in rows]
    if not out:
        return out
    store._erasure_lock(exclusive=False)
    if not _any(store):
        return out
    words = [set(_WORD.findall(r.reason)) | set(_WORD.findall(r.raw or "")) for r in out]
    hashes = {w: (subject_hash("user", w), subject_hash("session", w)) for ws in words for w in ws}
    dead = _buried(store, [h for pair in hashes.values() for h in pair])
    if not dead:
        return out
    return [QuarantineRow(r.key, ERASED_REASON, REDACTED_RAW)
            if any(h in dead for w in ws for h in hashes[w]) else r for r, ws in zip(out, words, strict=True)]


def bury(store: SqlStore, user: str, sessions: Iterable[str], erasure: int, at: float) -> None:
    """Tombstones for ``user`` and ``sessions`` (inside the erasure's transaction; a subject buried
    before keeps its first record)."""
    rows = [(subject_hash("user", user), "user", erasure, at)]
    rows += [(subject_hash("session", s), "session", erasure, at) for s in sessions]
    store._bulk_insert("tombstones", ("subject", "kind", "erasure", "at"), rows)


def lift(store: SqlStore, user: str) -> dict[str, int]:
    """Delete the tombstones of ``user``'s erasures (the user's and their sessions'), with an audit
    record; returns how many went (0 users: the id was never erased)."""
    subject = subject_hash("user", user)
    with store.transaction():
        store._erasure_lock(exclusive=True)
        erasures = sorted({int(e) for (e,) in store._query("SELECT erasure FROM tombstones WHERE subject = ?", (subject,))})
        erasures += [int(r) for (r,) in store._query(
            "SELECT id FROM audit_log WHERE action = 'erase_user' AND subject = ?", (subject,))]
        erasures = sorted(set(erasures))
        users = sessions = 0
        for i in range(0, len(erasures), _CHUNK):
            chunk = erasures[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sessions += max(store._exec(f"DELETE FROM tombstones WHERE kind = 'session' AND erasure IN ({marks})",
                                        chunk).rowcount, 0)
        users = max(store._exec("DELETE FROM tombstones WHERE subject = ?", (subject,)).rowcount, 0)
        counts = {"users": users, "sessions": sessions}
        if users:
            store._exec("INSERT INTO audit_log (at, action, subject, counts, refs) VALUES (?, ?, ?, ?, ?)",
                        (time.time(), "lift_erasure", subject, json.dumps(counts, sort_keys=True), None))
    return counts


def backfill(store: SqlStore) -> int:
    """Tombstones for the erasures audited before migration 6 (inside its transaction); returns how many."""
    rows: list[tuple[str, str, int, float]] = []
    for rid, at, subject, refs in store._query(
            "SELECT id, at, subject, refs FROM audit_log WHERE action = 'erase_user' ORDER BY id"):
        rows.append((str(subject), "user", int(rid), float(at)))
        rows += [(str(h), "session", int(rid), float(at)) for h in (json.loads(refs) if refs else [])]
    return store._bulk_insert("tombstones", ("subject", "kind", "erasure", "at"), rows) if rows else 0
