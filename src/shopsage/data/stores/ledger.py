"""The live API's ledger in a SQL store: exactly-once event requests, user erasure, the audit log.

Functions over a :class:`~shopsage.data.stores.sql.SqlStore`, behind its ``ingest_events``,
``erase_user`` and ``user_sessions`` methods. The store is the only judge of "already seen":

- a request with an ``Idempotency-Key`` claims its key's row in ``ingest_requests`` (SHA-256 of
  the key, never the key) inside the transaction that stores its events, so the events and the
  answer commit together or not at all; its events are keyed ``(api/requests, row id, position)``.
  A second request with the key waits for the first one's transaction (PostgreSQL's unique index,
  SQLite's single writer), then reads the recorded answer;
- an event id is deduplicated by the ``events.ext_id`` unique index: the same content is a
  duplicate, other content an :class:`~shopsage.errors.EventConflictError` naming both versions,
  checked again after the insert for an id a concurrent writer stored first;
- events of an erased user or session (the store's tombstones, :mod:`~shopsage.data.stores.tombstones`)
  are quarantined redacted and counted in ``quarantined``, never stored; request records older than
  the retention are pruned (:func:`prune_requests`, :mod:`~shopsage.data.stores.retention`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shopsage.data.rows import EventRow, QuarantineRow, RowKey
from shopsage.data.stores import tombstones
from shopsage.data.stores.base import UNKNOWN_ITEMS, IngestOutcome, UnknownItems
from shopsage.data.stores.exposures import erase_exposures
from shopsage.data.stores.tombstones import subject_hash
from shopsage.errors import (
    EventConflictError,
    IdempotencyKeyReusedError,
    StoreError,
    UnknownItemsError,
    ValidationError,
)

if TYPE_CHECKING:
    from shopsage.data.stores.sql import SqlStore

__all__ = ["ingest_events", "erase_user", "prune_requests", "user_sessions", "audit_log", "erasures", "key_hash", "subject_hash", "event_json",
           "REQUEST_SOURCE"]

REQUEST_SOURCE = "api/requests"
"""Source name of the events of requests with an Idempotency-Key (line = the request's row id)."""

_CHUNK = 900
_STORED = ("e.ext_id, s.name, e.line, e.pos, e.type, i.ext_id, u.ext_id, e.session, e.query, e.value, e.ts, "
           "e.ordinal, e.split, e.context")
_STORED_FROM = ("events e JOIN sources s ON s.id = e.src LEFT JOIN users u ON u.id = e.user_id "
                "LEFT JOIN items i ON i.id = e.item_id")


def key_hash(key: str) -> str:
    """What ``ingest_requests`` keeps of an Idempotency-Key: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def event_json(r: EventRow) -> dict[str, Any]:
    """An event as the API names its fields (None fields left out): for conflict details and quarantine rows."""
    out = {"id": r.ext_id, "type": r.type, "item": r.item, "user": r.user, "session": r.session, "query": r.query,
           "value": r.value, "timestamp": r.ts, "ordinal": r.ordinal, "split": r.split, "context": r.context}
    return {k: v for k, v in out.items() if v is not None}


def _same(stored: EventRow, sent: EventRow, loose_ts: bool) -> bool:
    a, b = stored[1:], sent[1:]  # everything but the key
    if loose_ts:  # the server stamped the sent event's time: it is not part of what the client sent
        a, b = stored._replace(ts=None)[1:], sent._replace(ts=None)[1:]
    return a == b


def _stored_by_id(store: SqlStore, ext_ids: Sequence[str]) -> dict[str, EventRow]:
    out = {}
    for r in store._lookup(_STORED_FROM, "e.ext_id", list(dict.fromkeys(ext_ids)), _STORED):
        out[r[0]] = EventRow(RowKey(r[1], int(r[2]), int(r[3])), r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
                             r[12], json.loads(r[13]) if r[13] else None, r[0])
    return out


def _conflict(pairs: list[tuple[EventRow, EventRow]]) -> EventConflictError:
    stored, sent = pairs[0]
    detail: list[dict[str, object]] = [{"id": a.ext_id, "stored": event_json(a), "sent": event_json(b)} for a, b in pairs]
    more = f" ({len(pairs) - 1} more ids conflict, see detail)" if len(pairs) > 1 else ""
    return EventConflictError(
        f"event id {stored.ext_id!r} is already stored with other content{more}: stored "
        f"{json.dumps(event_json(stored), ensure_ascii=False)}, sent {json.dumps(event_json(sent), ensure_ascii=False)}. "
        "Events are facts and never change: give a new event a new id, or resend the stored version. "
        "Nothing of this request was applied.", detail)


def _claim_request(store: SqlStore, key: str, digest: str | None) -> int | IngestOutcome:
    """The request's row id (claimed by this transaction), or the answer recorded under the key."""
    kh = key_hash(key)
    cur = store._exec(store._insert_ignore("ingest_requests", ("key_hash", "digest", "accepted", "duplicates",
                                                               "quarantined", "created_at")),
                      (kh, digest, 0, 0, 0, time.time()))
    row = store._query("SELECT id, digest, accepted, duplicates, quarantined FROM ingest_requests WHERE key_hash = ?",
                       (kh,))[0]
    if cur.rowcount == 1:
        return int(row[0])
    if row[1] is not None and digest is not None and row[1] != digest:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used before for a request with another body. A retry must send the "
            "same events as the first try; use a new key for new events. Nothing of this request was applied.")
    return IngestOutcome(int(row[2]), int(row[3]), int(row[4]), replayed=True)


def _sort_by_id(store: SqlStore, rows: Sequence[EventRow], loose: set[int]) -> tuple[list[int], int]:
    """``(positions to insert, duplicates)``: events with an id stored (or sent earlier in the batch) with
    the same content are duplicates; with other content the request is refused."""
    stored = _stored_by_id(store, [r.ext_id for r in rows if r.ext_id is not None])
    fresh: list[int] = []
    duplicates = 0
    conflicts: list[tuple[EventRow, EventRow]] = []
    for i, r in enumerate(rows):
        if r.ext_id is None:
            fresh.append(i)
            continue
        prior = stored.get(r.ext_id)
        if prior is None:
            stored[r.ext_id] = r
            fresh.append(i)
        elif _same(prior, r, i in loose):
            duplicates += 1
        else:
            conflicts.append((prior, r))
    if conflicts:
        raise _conflict(conflicts)
    return fresh, duplicates


def _unknown_items(store: SqlStore, rows: Sequence[EventRow]) -> list[str]:
    names = [x for x in dict.fromkeys(r.item for r in rows) if x is not None and x not in store._items]
    known = {ext for (ext,) in store._lookup("items", "ext_id", names, "ext_id")} if names else set()
    return [x for x in names if x not in known]


def _which_inserted(store: SqlStore, rows: Sequence[EventRow], fresh: list[int], loose: set[int]) -> tuple[list[int], int]:
    """After a write that stored fewer rows than asked (a concurrent writer stored some ids first): the
    positions stored by this call, and the duplicates. A row found neither by its id nor by its key
    was not stored at all: that is an error, never an acknowledgement."""
    stored = _stored_by_id(store, [rows[i].ext_id for i in fresh if rows[i].ext_id is not None])  # type: ignore[misc]
    keyed = {(name, int(line), int(pos)) for name, line, pos in store._lookup(
        "events e JOIN sources s ON s.id = e.src", "e.line", list({rows[i].key.line for i in fresh}),
        "s.name, e.line, e.pos")}
    mine: list[int] = []
    duplicates = 0
    conflicts = []
    for i in fresh:
        r = rows[i]
        prior = stored.get(r.ext_id) if r.ext_id is not None else None
        if (prior is not None and prior.key == r.key) or (r.ext_id is None and tuple(r.key) in keyed):
            mine.append(i)
        elif prior is None:
            raise StoreError(f"event {i} of the request was not stored (its key {tuple(r.key)} is taken by another "
                             "event); nothing of this request was applied. Retry the request.")
        elif _same(prior, r, i in loose):
            duplicates += 1
        else:
            conflicts.append((prior, r))
    if conflicts:
        raise _conflict(conflicts)
    return mine, duplicates


def ingest_events(store: SqlStore, rows: Sequence[EventRow], request_key: str | None = None, digest: str | None = None,
                  unknown_items: UnknownItems = "quarantine", stamped: Sequence[int] = ()) -> IngestOutcome:
    """:meth:`~shopsage.data.stores.base.StoreWriter.ingest_events` on a SQL store."""
    if unknown_items not in UNKNOWN_ITEMS:
        raise ValidationError(f"unknown_items of {unknown_items!r} is not one of {', '.join(UNKNOWN_ITEMS)}")
    loose = set(stamped)
    with store.transaction():
        request_id = None
        if request_key is not None:
            claimed = _claim_request(store, request_key, digest)
            if isinstance(claimed, IngestOutcome):
                return claimed
            request_id = claimed
            rows = [r._replace(key=RowKey(REQUEST_SOURCE, request_id, i)) for i, r in enumerate(rows)]
        for u in {r.user for r in rows if r.user is not None}:
            store._users.pop(u, None)  # another process may have erased the user: look the id up again
        erased = tombstones.erased_positions(store, [r.user for r in rows], [r.session for r in rows])
        if erased:  # quarantined redacted (write_quarantine keeps no content of them), never stored
            store.write_quarantine([QuarantineRow(rows[i].key, tombstones.ERASED_REASON, tombstones.REDACTED_RAW)
                                    for i in erased])
            gone = set(erased)
            kept = [i for i in range(len(rows)) if i not in gone]
            fresh, duplicates = _sort_by_id(store, [rows[i] for i in kept], {j for j, i in enumerate(kept) if i in loose})
            fresh = [kept[j] for j in fresh]
        else:
            fresh, duplicates = _sort_by_id(store, rows, loose)
        held: list[int] = []
        unknown = _unknown_items(store, [rows[i] for i in fresh]) if unknown_items != "accept" else []
        if unknown:
            shown = ", ".join(repr(x) for x in unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            if unknown_items == "reject":
                raise UnknownItemsError(
                    f"events name {len(unknown)} items that are not in the catalogue: {shown}. Create them first with "
                    "PUT /v1/items/{id}, or leave those events out. Nothing of this request was applied.", unknown)
            missing = set(unknown)
            held = [i for i in fresh if rows[i].item in missing]
            fresh = [i for i in fresh if rows[i].item not in missing]
        res = store.write_events([rows[i] for i in fresh])
        refused = [(fresh[j], why) for j, why in res.conflicts if why.startswith("refused")]
        if refused:
            raise ValidationError(f"event {refused[0][0]} of the request: {refused[0][1]}. Nothing of this request was "
                                  "applied.")
        if res.inserted != len(fresh):  # a concurrent writer stored some of these ids first
            fresh, raced = _which_inserted(store, rows, fresh, loose)
            duplicates += raced
        if held:
            store.write_quarantine([QuarantineRow(rows[i].key, f"unknown item {rows[i].item!r}: not in the catalogue",
                                                  json.dumps(event_json(rows[i]), ensure_ascii=False))
                                    for i in held])
        out = IngestOutcome(len(fresh), duplicates, len(held) + len(erased), False, fresh)
        if request_id is not None:
            store._exec("UPDATE ingest_requests SET accepted = ?, duplicates = ?, quarantined = ? WHERE id = ?",
                        (out.accepted, out.duplicates, out.quarantined, request_id))
        return out


def user_sessions(store: SqlStore, user: str) -> list[str]:
    """Session ids of the user's stored events, in order of first appearance."""
    return [str(s) for (s,) in store._query(
        "SELECT session FROM events WHERE user_id IN (SELECT id FROM users WHERE ext_id = ?) AND session IS NOT NULL "
        "GROUP BY session ORDER BY MIN(id)", (user,))]


def _chunks(values: Sequence[Any]) -> list[list[Any]]:
    return [list(values[i:i + _CHUNK]) for i in range(0, len(values), _CHUNK)]


def _erase_quarantined(store: SqlStore, ids: set[str]) -> int:
    """Quarantine rows that name the user or one of their sessions: API rows (JSON events) by field,
    other rows by the id standing as a whole word in the raw text."""
    doomed: set[int] = set()
    for ext in ids:
        pattern = re.compile(rf"(?<![\w-]){re.escape(ext)}(?![\w-])")
        like = "%" + ext.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for rid, name, raw in store._query(
                "SELECT q.id, s.name, q.raw FROM quarantine q JOIN sources s ON s.id = q.src "
                "WHERE q.raw LIKE ? ESCAPE '\\'", (like,)):
            if name.startswith("api"):
                try:
                    ev = json.loads(raw)
                except (TypeError, ValueError):
                    ev = {}
                if isinstance(ev, dict) and (ev.get("user") in ids or ev.get("session") in ids):
                    doomed.add(int(rid))
            elif raw and pattern.search(raw):
                doomed.add(int(rid))
    for chunk in _chunks(sorted(doomed)):
        store._exec(f"DELETE FROM quarantine WHERE id IN ({','.join('?' * len(chunk))})", chunk)
    return len(doomed)


def erase_user(store: SqlStore, user: str) -> dict[str, int]:
    """:meth:`~shopsage.data.stores.base.StoreWriter.erase_user` on a SQL store."""
    if not user:
        raise ValidationError("erase_user needs a user id")
    with store.transaction():
        store._erasure_lock(exclusive=True)  # no write that checked the tombstones before us commits after
        found = store._query("SELECT id FROM users WHERE ext_id = ?", (user,))
        uid = int(found[0][0]) if found else None
        sessions = user_sessions(store, user) if uid is not None else []
        src = store._query("SELECT id FROM sources WHERE name = ?", (REQUEST_SOURCE,))
        requests: set[int] = set()
        conditions = ([("user_id = ?", [uid])] if uid is not None else []) + \
            [(f"session IN ({','.join('?' * len(c))})", c) for c in _chunks(sessions)]
        events = 0
        for cond, params in conditions:
            if src:
                requests |= {int(x) for (x,) in store._query(f"SELECT DISTINCT line FROM events WHERE src = ? AND ({cond})",
                                                             [src[0][0], *params])}
            events += max(store._exec(f"DELETE FROM events WHERE {cond}", params).rowcount, 0)
        for chunk in _chunks(sorted(requests)):  # the answer stays (a late retry is not stored again), the digest goes
            store._exec(f"UPDATE ingest_requests SET digest = NULL WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        users = max(store._exec("DELETE FROM users WHERE id = ?", (uid,)).rowcount, 0) if uid is not None else 0
        store._users.pop(user, None)
        quarantined = _erase_quarantined(store, {user, *sessions})
        shown = erase_exposures(store, user, sessions)
        counts = {"events": events, "sessions": len(sessions), "users": users, "requests": len(requests),
                  "quarantined": quarantined, "exposures": shown}
        at = time.time()
        store._exec("INSERT INTO audit_log (at, action, subject, counts, refs) VALUES (?, ?, ?, ?, ?)",
                    (at, "erase_user", subject_hash("user", user), json.dumps(counts, sort_keys=True),
                     json.dumps([subject_hash("session", s) for s in sessions])))
        record = store._query("SELECT MAX(id) FROM audit_log WHERE action = 'erase_user' AND subject = ?",
                              (subject_hash("user", user),))[0][0]
        tombstones.bury(store, user, sessions, int(record), at)  # no later write stores them again
    return counts


def prune_requests(store: SqlStore, before: float) -> int:
    """Delete the exactly-once records of requests made before ``before`` (epoch s); returns how many.
    A retry of such a request is a new request (its events with ids are still duplicates, by the events'
    own unique ids). The newest record always stays: SQLite hands out the next row id after the largest
    one left, and a reused id would be the key of stored events."""
    with store.transaction():
        newest = store._query("SELECT MAX(id) FROM ingest_requests")[0][0]
        if newest is None:
            return 0
        return max(store._exec("DELETE FROM ingest_requests WHERE created_at < ? AND id < ?",
                               (float(before), int(newest))).rowcount, 0)


def erasures(store: SqlStore, after: int = 0) -> list[tuple[int, str, list[str]]]:
    """Erasures recorded after audit record ``after``: ``(record id, user hash, session hashes)``, oldest first."""
    return [(int(rid), str(subject), json.loads(refs) if refs else []) for rid, subject, refs in store._query(
        "SELECT id, subject, refs FROM audit_log WHERE id > ? AND action = 'erase_user' ORDER BY id", (after,))]


def audit_log(store: SqlStore, limit: int = 100) -> list[dict[str, Any]]:
    """The newest audit records first: when, what, the subject's hash and the counts."""
    return [{"at": float(at), "action": action, "subject": subject, "counts": json.loads(counts) if counts else {}}
            for at, action, subject, counts in store._query(
                "SELECT at, action, subject, counts FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))]
