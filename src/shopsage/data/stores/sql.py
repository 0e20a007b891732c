"""The SQL store shared by the SQLite and PostgreSQL backends.

Backends differ only in connecting, DDL types, placeholders and the bulk-insert path
(``executemany`` for SQLite, ``COPY`` for PostgreSQL); everything else is here. All writes of a
batch happen inside one transaction: a batch is either wholly stored or not at all. A store is safe
to share between threads: one lock serialises its connection, held for a whole transaction (the
service runs event writes in a thread pool). The live API's ledger (exactly-once requests,
erasure, audit) is :mod:`shopsage.data.stores.ledger`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from shopsage.data.rows import (
    DocumentRow,
    EventBlock,
    EventRow,
    ItemRow,
    JudgmentRow,
    QuarantineRow,
    RowKey,
    WriteResult,
    item_digest,
)
from shopsage.data.schema import EVENT_TYPES
from shopsage.data.stores import experiment_rows, exposures, ledger, tombstones
from shopsage.data.stores.base import (
    SPLIT_CODES,
    TYPE_CODES,
    IngestOutcome,
    Interactions,
    StoreStats,
    UnknownItems,
)
from shopsage.data.stores.migrations import LATEST_VERSION, MIGRATIONS, SECONDARY_INDEXES, TOMBSTONES_VERSION
from shopsage.errors import SchemaVersionError, StoreError
from shopsage.feedback.attribution import DEFAULT_WINDOW_S
from shopsage.feedback.records import AttributedEvent, ExposureRow

__all__ = ["SqlStore"]

_CHUNK = 900  # ids per IN (...) lookup: below every SQLite build's variable limit

_ITEM_COLS = ("ext_id", "title", "description", "category_path", "brand", "price", "currency",
              "attributes", "available", "stock", "created_at", "updated_at", "language", "digest")
_EVENT_CONTENT = ("user_id", "session", "item_id", "type", "query", "value", "ts", "ordinal", "split", "context")
_EVENT_COLS = ("src", "line", "pos", "ext_id", *_EVENT_CONTENT)


_TYPES = frozenset(EVENT_TYPES)
_SPLITS = frozenset((None, "train", "valid", "test"))


def _invalid_event(r: EventRow) -> str:
    if r.type not in _TYPES:
        return f"refused: unknown event type {r.type!r}"
    if r.ts is None and r.ordinal is None:
        return "refused: an event needs a timestamp or an ordinal"
    if r.user is None and r.session is None:
        return "refused: an event needs a user or a session"
    return f"refused: unknown split {r.split!r}"


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


class SqlStore:
    """A shop's data in a SQL database. Subclasses supply the connection and the dialect."""

    url: str
    ddl_types: dict[str, str]

    def __init__(self, url: str, conn: Any, create: bool = True) -> None:
        self.url = url
        self._conn = conn
        self._in_tx = False
        self._lock = threading.RLock()  # one connection, many threads: a transaction holds it throughout
        self._reset_caches()
        if not create and not self._has_schema():
            conn.close()
            raise StoreError(f"no ShopSage store at {self.where()}: it holds no ShopSage tables. Import data first "
                             f"with `shopsage import FORMAT PATH --store {url}`, or check the URL.")
        self._migrate()

    def where(self) -> str:
        """The store's place for messages (a file path, a database and schema)."""
        return self.url

    def _has_schema(self) -> bool:
        """Whether the ShopSage tables exist (a store created before)."""
        raise NotImplementedError

    # -- dialect hooks ---------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql

    def _insert_ignore(self, table: str, cols: Sequence[str]) -> str:
        raise NotImplementedError

    def _bulk_insert(self, table: str, cols: Sequence[str], rows: list[tuple]) -> int:
        """Insert rows, ignoring unique-key conflicts; return how many were inserted."""
        cur = self._conn.cursor()
        cur.executemany(self._sql(self._insert_ignore(table, cols)), rows)
        return max(cur.rowcount, 0)

    def _begin(self) -> None:
        self._conn.execute("BEGIN")

    def _erasure_lock(self, exclusive: bool) -> None:
        """Inside a transaction: serialise erasures (``exclusive``) against event writes (shared) until
        it ends (:mod:`~shopsage.data.stores.tombstones`). Nothing to do where writers are serial anyway."""

    def _serialize_event_writes(self) -> None:
        """Inside a transaction about to insert events: wait for other writers' event transactions to end,
        so that event ids are committed in id order and ``interactions(after=...)`` skips none (SQLite
        has one writer at a time already)."""

    # -- plumbing --------------------------------------------------------------------
    def _reset_caches(self) -> None:
        self._sources: dict[str, int] = {}
        self._users: dict[str, int] = {}
        self._items: dict[str, int] = {}

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._sql(sql), tuple(params))
            return cur

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return list(self._exec(sql, params).fetchall())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside is committed together, or rolled back together. Other threads
        wait for the transaction to end before they use the store."""
        with self._lock:
            if self._in_tx:
                yield
                return
            self._begin()
            self._in_tx = True
            try:
                yield
            except BaseException:
                self._conn.rollback()
                self._reset_caches()  # ids handed out inside the rolled-back transaction are gone
                raise
            else:
                self._conn.commit()
            finally:
                self._in_tx = False

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _migrate(self) -> None:
        self._exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        self._conn.commit()
        rows = self._query("SELECT MAX(version) FROM schema_version")
        current = rows[0][0] or 0
        if current > LATEST_VERSION:
            raise SchemaVersionError(
                f"the store at {self.url} has schema version {current}, newer than this ShopSage "
                f"understands ({LATEST_VERSION}). Upgrade ShopSage, or use another store."
            )
        for version in range(current + 1, LATEST_VERSION + 1):
            with self.transaction():
                for stmt in MIGRATIONS[version - 1]:
                    self._exec(stmt.format(**self.ddl_types))
                if version == TOMBSTONES_VERSION:
                    tombstones.backfill(self)  # erasures made before: their users stay erased too
                self._exec("INSERT INTO schema_version (version) VALUES (?)", (version,))

        self._ensure_indexes()

    def _ensure_indexes(self) -> None:
        with self.transaction():
            for ddl in SECONDARY_INDEXES.values():
                self._exec(ddl)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Around a large import: into an empty events table, build secondary indexes once at the end."""
        empty = not self._query("SELECT 1 FROM events LIMIT 1")
        if empty:
            with self.transaction():
                for name in SECONDARY_INDEXES:
                    self._exec(f"DROP INDEX IF EXISTS {name}")
        try:
            yield
        finally:
            if empty:
                self._ensure_indexes()

    def schema_version(self) -> int:
        return int(self._query("SELECT MAX(version) FROM schema_version")[0][0] or 0)

    def _lookup(self, table: str, col: str, values: Sequence[Any], select: str) -> list[tuple]:
        out: list[tuple] = []
        for i in range(0, len(values), _CHUNK):
            chunk = list(values[i:i + _CHUNK])
            marks = ",".join("?" * len(chunk))
            out.extend(self._query(f"SELECT {select} FROM {table} WHERE {col} IN ({marks})", chunk))
        return out

    def _ensure_ids(self, table: str, cache: dict[str, int], ext_ids: Iterable[str | None]) -> None:
        """Make sure each external id has a row (stubs for unknown items) and cache its id.

        New ids get rows in order of first appearance, so row ids (and with them every split's
        user and item order) are the same in every process, whatever its hash seed."""
        missing = [e for e in dict.fromkeys(ext_ids) if e is not None and e not in cache]
        if not missing:
            return
        for ext, rid in self._lookup(table, "ext_id", missing, "ext_id, id"):
            cache[ext] = rid
        new = [e for e in missing if e not in cache]
        if new:
            self._bulk_insert(table, ("ext_id",), [(e,) for e in new])
            for ext, rid in self._lookup(table, "ext_id", new, "ext_id, id"):
                cache[ext] = rid

    def _source_id(self, name: str) -> int:
        if name not in self._sources:
            self._bulk_insert("sources", ("name",), [(name,)])
            self._sources[name] = self._query("SELECT id FROM sources WHERE name = ?", (name,))[0][0]
        return self._sources[name]

    def _existing_keys(self, table: str, keys: Sequence[RowKey], content: Sequence[str]) -> dict[object, tuple]:
        """Stored content of rows whose (source, line, pos) is among ``keys``."""
        found: dict[object, tuple] = {}
        by_src: dict[str, list[int]] = {}
        for k in keys:
            by_src.setdefault(k.source, []).append(k.line)
        cols = ", ".join(content)
        for name, lines in by_src.items():
            src = self._source_id(name)
            for row in self._query(
                f"SELECT line, pos, {cols} FROM {table} WHERE src = ? AND line BETWEEN ? AND ?",
                (src, min(lines), max(lines)),
            ):
                found[(src, row[0], row[1])] = tuple(row[2:])
        return found

    # -- writes ----------------------------------------------------------------------
    def write_items(self, rows: Sequence[ItemRow]) -> WriteResult:
        """Insert new items, fill in stubs, update changed ones; identical rows count as present."""
        res = WriteResult()
        if not rows:
            return res
        with self.transaction():
            latest: dict[str, ItemRow] = {}
            for r in rows:
                latest[r.ext_id] = r
            stored = {ext: (rid, dg) for ext, rid, dg in self._lookup("items", "ext_id", list(latest), "ext_id, id, digest")}
            res.already_present += len(rows) - len(latest)
            inserts, updates = [], []
            for ext, r in latest.items():
                digest = item_digest(r)
                values = (r.ext_id, r.title, r.description, _dumps(list(r.category_path)) if r.category_path else None,
                          r.brand, r.price, r.currency, _dumps(r.attributes or None), bool(r.available), r.stock,
                          r.created_at, r.updated_at, r.language, digest)
                if ext not in stored:
                    inserts.append(values)
                elif stored[ext][1] == digest:
                    res.already_present += 1
                else:
                    updates.append(values[1:] + (ext,))
                    if stored[ext][1] is None:
                        res.inserted += 1  # a stub created by an event gets its catalogue data
                    else:
                        res.updated += 1
            res.inserted += self._insert_columns("items", _ITEM_COLS, list(zip(*inserts, strict=True)), len(inserts)) if inserts else 0
            if updates:
                sets = ", ".join(f"{c} = ?" for c in _ITEM_COLS[1:])
                self._conn.cursor().executemany(self._sql(f"UPDATE items SET {sets} WHERE ext_id = ?"), updates)
            for ext, rid in self._lookup("items", "ext_id", [v[0] for v in inserts], "ext_id, id"):
                self._items[ext] = rid
        return res

    def write_events(self, rows: Sequence[EventRow] | EventBlock) -> WriteResult:
        """Store new events. A key already stored with the same content counts as present;
        with other content it is a conflict (events are facts and never change). Invalid rows
        are refused as conflicts too, and so are rows of an erased user or session
        (:data:`~shopsage.data.stores.tombstones.ERASED_REASON`); ``conflicts`` indexes are positions in ``rows``.

        Works on columns: a fresh range of a file with valid rows, the bulk import case, costs
        no Python work per row beyond the database's own.
        """
        b = rows if isinstance(rows, EventBlock) else EventBlock.from_rows(rows)
        if not len(b):
            return WriteResult()
        with self.transaction():
            erased = tombstones.erased_positions(self, b.user, b.session)
            if not erased:
                return self._write_block(b)
            gone = set(erased)
            kept = [i for i in range(len(b)) if i not in gone]
            res = self._write_block(EventBlock.from_rows([b.row(i) for i in kept])) if kept else WriteResult()
            res.conflicts = sorted([(kept[j], why) for j, why in res.conflicts]
                                   + [(i, tombstones.ERASED_REASON) for i in erased])
            return res

    def _write_block(self, b: EventBlock) -> WriteResult:
        res = WriteResult()
        n = len(b)
        with self.transaction():
            self._serialize_event_writes()
            users, items = self._users, self._items
            self._ensure_ids("users", users, b.user)
            self._ensure_ids("items", items, b.item)
            srcs = {name: self._source_id(name) for name in set(b.source)}
            src_ids = list(map(srcs.__getitem__, b.source))
            ctx = b.context if b.context.count(None) == n else [None if c is None else _dumps(c) for c in b.context]
            columns = [src_ids, b.line, b.pos, b.ext_id, list(map(users.get, b.user)), b.session,
                       list(map(items.get, b.item)), b.type, b.query, b.value, b.ts, b.ordinal, b.split, ctx]
            stored = self._existing_events(src_ids, b.line, b.ext_id)
            all_valid = (set(b.type) <= _TYPES and set(b.split) <= _SPLITS
                         and (b.ts.count(None) == 0 or b.ordinal.count(None) == 0)
                         and (b.user.count(None) == 0 or b.session.count(None) == 0))
            if all_valid and not stored and b.ext_id.count(None) == n:
                inserted = self._insert_columns("events", _EVENT_COLS, columns, n)
                res.inserted += inserted
                res.already_present += n - inserted  # lost a race with a concurrent writer
                return res
            values = []
            for i, row in enumerate(zip(*columns, strict=True)):
                if row[7] not in _TYPES or (row[10] is None and row[11] is None) or (b.user[i] is None and row[5] is None) \
                        or row[12] not in _SPLITS:
                    res.conflicts.append((i, _invalid_event(b.row(i))))
                    continue
                content = row[4:]
                key = row[3] if row[3] is not None else row[:3]
                prior = stored.get(key)
                if prior is not None:
                    if prior == content:
                        res.already_present += 1
                    else:
                        what = row[3] or f"{b.source[i]} line {b.line[i]} position {b.pos[i]}"
                        res.conflicts.append((i, f"conflicting duplicate: event {what} is already stored with other content"))
                    continue
                stored[key] = content
                values.append(row)
            inserted = self._insert_columns("events", _EVENT_COLS, [list(c) for c in zip(*values, strict=True)], len(values)) if values else 0
            res.inserted += inserted
            res.already_present += len(values) - inserted
        return res

    def _existing_events(self, src_ids: Sequence[int], lines: Sequence[int], ext_ids: Sequence[str | None]) -> dict[object, tuple]:
        """Stored content of events that share a (source, line, pos) or an ext id with the batch."""
        stored: dict[object, tuple] = {}
        content = ", ".join(_EVENT_CONTENT)
        for src in set(src_ids):
            lns = [ln for s, ln in zip(src_ids, lines, strict=True) if s == src] if len(set(src_ids)) > 1 else lines
            for row in self._query(f"SELECT src, line, pos, {content} FROM events WHERE src = ? AND line BETWEEN ? AND ?",
                                   (src, min(lns), max(lns))):
                stored[tuple(row[:3])] = tuple(row[3:])
        wanted = [e for e in ext_ids if e is not None]
        if wanted:
            for row in self._lookup("events", "ext_id", wanted, "ext_id, " + content):
                stored[row[0]] = tuple(row[1:])
        return stored

    def _insert_columns(self, table: str, cols: Sequence[str], columns: Sequence[Sequence[Any]], n: int) -> int:
        """Bulk insert naming only the columns some row fills: binding NULLs costs import speed."""
        used = [j for j, col in enumerate(columns) if col.count(None) != n] if n else []
        return self._bulk_insert(table, [cols[j] for j in used], list(zip(*(columns[j] for j in used), strict=True)))

    def _write_keyed(self, table: str, cols: Sequence[str], rows: Sequence[Any], make: Any) -> WriteResult:
        """Rows keyed by (source, line, pos): new ones are inserted, identical ones are present,
        different content under a stored key is a conflict."""
        res = WriteResult()
        if not rows:
            return res
        with self.transaction():
            stored = self._existing_keys(table, [r.key for r in rows], cols)
            values = []
            for i, r in enumerate(rows):
                src = self._source_id(r.key.source)
                content = tuple(make(r))
                key = (src, r.key.line, r.key.pos)
                prior = stored.get(key)
                if prior is not None:
                    if prior == content:
                        res.already_present += 1
                    else:
                        res.conflicts.append((i, f"conflicting duplicate: {r.key} is already stored with other content"))
                    continue
                stored[key] = content
                values.append((*key, *content))
            res.inserted += self._bulk_insert(table, ("src", "line", "pos", *cols), values)
        return res

    def write_judgments(self, rows: Sequence[JudgmentRow]) -> WriteResult:
        with self.transaction():
            self._ensure_ids("items", self._items, [r.item for r in rows])
            return self._write_keyed("judgments", ("query", "item_id", "grade"), rows,
                                     lambda r: (r.query, self._items[r.item], r.grade))

    def write_documents(self, rows: Sequence[DocumentRow]) -> WriteResult:
        return self._write_keyed("documents", ("text", "label", "category", "language"), rows,
                                 lambda r: (r.text, r.label, r.category, r.language))

    def write_quarantine(self, rows: Sequence[QuarantineRow]) -> WriteResult:
        """Keep rejected rows with their reason; a row quarantined before counts as present. Rows of an
        erased user or session are kept redacted (:func:`shopsage.data.stores.tombstones.redact`)."""
        res = WriteResult()
        if not rows:
            return res
        with self.transaction():
            now = time.time()
            rows = tombstones.redact(self, rows)  # nothing of an erased shopper's rows, ever
            values = [(self._source_id(r.key.source), r.key.line, r.key.pos, r.reason, r.raw, now) for r in rows]
            res.inserted = self._bulk_insert("quarantine", ("src", "line", "pos", "reason", "raw", "created_at"), values)
            res.already_present = len(rows) - res.inserted
        return res

    def ingest_events(self, rows: Sequence[EventRow], *, request_key: str | None = None, digest: str | None = None,
                      unknown_items: UnknownItems = "quarantine", stamped: Sequence[int] = ()) -> IngestOutcome:
        """One live API request, exactly once (:func:`shopsage.data.stores.ledger.ingest_events`)."""
        return ledger.ingest_events(self, rows, request_key, digest, unknown_items, stamped)

    def erase_user(self, user_ext_id: str) -> dict[str, int]:
        """Erase a user's data and audit it (:func:`shopsage.data.stores.ledger.erase_user`)."""
        return ledger.erase_user(self, user_ext_id)

    def user_sessions(self, user: str) -> list[str]:
        return ledger.user_sessions(self, user)

    def lift_erasure(self, user: str) -> dict[str, int]:
        """Let ``user``'s events be stored again (:func:`shopsage.data.stores.tombstones.lift`)."""
        return tombstones.lift(self, user)

    def prune_requests(self, before: float) -> int:
        """Forget exactly-once records older than ``before`` (:func:`shopsage.data.stores.ledger.prune_requests`)."""
        return ledger.prune_requests(self, before)

    def erasures(self, after: int = 0) -> list[tuple[int, str, list[str]]]:
        """Erasures recorded after audit record ``after`` (:func:`shopsage.data.stores.ledger.erasures`)."""
        return ledger.erasures(self, after)

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit records first (erasures): when, action, the subject's hash, counts."""
        return ledger.audit_log(self, limit)

    # -- experiments (shopsage.data.stores.experiment_rows) -----------------------------------
    def write_experiment(self, definition: dict[str, Any], replace: bool = False) -> None:
        """Store an experiment's definition (:func:`shopsage.data.stores.experiment_rows.write_experiment`)."""
        experiment_rows.write_experiment(self, definition, replace)

    def experiments(self, name: str | None = None) -> list[dict[str, Any]]:
        """Stored experiment definitions, oldest first (:func:`~shopsage.data.stores.experiment_rows.read_experiments`)."""
        return experiment_rows.read_experiments(self, name)

    def stop_experiment(self, name: str) -> float:
        """Mark an experiment stopped; returns when (:func:`~shopsage.data.stores.experiment_rows.stop_experiment`)."""
        return experiment_rows.stop_experiment(self, name)

    # -- exposures (shopsage.data.stores.exposures) -------------------------------------------
    def write_exposures(self, rows: Sequence[ExposureRow]) -> WriteResult:
        """Store what answers showed (:func:`shopsage.data.stores.exposures.write_exposures`)."""
        return exposures.write_exposures(self, rows)

    def read_exposures(self, experiment: str | None = None, since: float | None = None) -> Iterator[ExposureRow]:
        """Exposures by time (:func:`shopsage.data.stores.exposures.read_exposures`)."""
        return exposures.read_exposures(self, experiment, since)

    def read_attributed(self, experiment: str | None = None, since: float | None = None,
                        window_s: float = DEFAULT_WINDOW_S) -> Iterator[AttributedEvent]:
        """Clicks, carts and purchases with their exposures (:func:`shopsage.data.stores.exposures.read_attributed`)."""
        return exposures.read_attributed(self, experiment, since, window_s)

    def record_import(self, fmt: str, path: str, summary: dict[str, Any]) -> None:
        with self.transaction():
            self._exec("INSERT INTO imports (format, path, finished_at, summary) VALUES (?, ?, ?, ?)",
                       (fmt, path, time.time(), json.dumps(summary, sort_keys=True)))

    def imports(self) -> list[tuple[str, str]]:
        """``(format, path)`` of every finished import, oldest first."""
        return [(str(f), str(p)) for f, p in self._query("SELECT format, path FROM imports ORDER BY id")]

    # -- reads -----------------------------------------------------------------------
    def _count(self, sql: str) -> int:
        return int(self._query(sql)[0][0] or 0)

    @staticmethod
    def _distribution(counts: list[tuple]) -> dict[str, float]:
        if not counts:
            return {}
        arr = np.array([c[0] for c in counts], dtype=np.float64)
        return {"min": float(arr.min()), "median": float(np.median(arr)), "mean": round(float(arr.mean()), 3),
                "p95": float(np.percentile(arr, 95)), "max": float(arr.max())}

    def stats(self) -> StoreStats:
        by_type = {t: 0 for t in EVENT_TYPES}
        by_type.update({t: int(n) for t, n in self._query("SELECT type, COUNT(*) FROM events GROUP BY type")})
        by_split = {str(s): int(n) for s, n in self._query("SELECT split, COUNT(*) FROM events WHERE split IS NOT NULL GROUP BY split")}
        reasons = self._query("SELECT reason, COUNT(*) FROM quarantine GROUP BY reason ORDER BY COUNT(*) DESC")
        return StoreStats(
            users=self._count("SELECT COUNT(*) FROM users"),
            items=self._count("SELECT COUNT(*) FROM items"),
            events=sum(by_type.values()),
            events_by_type=by_type,
            events_by_split=by_split,
            sessions=self._count("SELECT COUNT(DISTINCT session) FROM events"),
            sessions_by_split={str(sp): int(n) for sp, n in self._query(
                "SELECT split, COUNT(DISTINCT session) FROM events WHERE split IS NOT NULL AND session IS NOT NULL GROUP BY split")},
            judgments=self._count("SELECT COUNT(*) FROM judgments"),
            judged_queries=self._count("SELECT COUNT(DISTINCT query) FROM judgments"),
            documents=self._count("SELECT COUNT(*) FROM documents"),
            quarantined=self._count("SELECT COUNT(*) FROM quarantine"),
            quarantined_by_reason={str(r)[:120]: int(n) for r, n in reasons[:20]},
            events_per_user=self._distribution(self._query("SELECT COUNT(*) FROM events WHERE user_id IS NOT NULL GROUP BY user_id")),
            events_per_session=self._distribution(self._query("SELECT COUNT(*) FROM events WHERE session IS NOT NULL GROUP BY session")),
            events_per_item=self._distribution(self._query("SELECT COUNT(*) FROM events WHERE item_id IS NOT NULL GROUP BY item_id")),
        )

    def item_ids(self) -> dict[str, int]:
        return {ext: int(rid) for rid, ext in self._query("SELECT id, ext_id FROM items ORDER BY id")}

    def user_ids(self) -> dict[str, int]:
        return {ext: int(rid) for rid, ext in self._query("SELECT id, ext_id FROM users ORDER BY id")}

    def items(self, ext_ids: Sequence[str] | None = None) -> Iterator[tuple[int, ItemRow]]:
        cols = "id, " + ", ".join(_ITEM_COLS[:-1])
        rows = self._lookup("items", "ext_id", list(ext_ids), cols) if ext_ids is not None else \
            self._query(f"SELECT {cols} FROM items ORDER BY id")
        for r in rows:
            cat = tuple(json.loads(r[4])) if r[4] else ()
            attrs = json.loads(r[8]) if r[8] else None
            yield int(r[0]), ItemRow(r[1], r[2], r[3], cat, r[5], r[6], r[7], attrs, bool(r[9]), r[10], r[11], r[12], r[13])

    def interactions(self, types: Sequence[str] | None = None, split: str | None = None, after: int = 0) -> Interactions:
        """:meth:`~shopsage.data.stores.base.StoreReader.interactions` (``after``: events with a larger id only)."""
        where: list[str] = []
        params: list[Any] = []
        if after:
            where.append("id > ?")
            params.append(int(after))
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            params.extend(types)
        if split is not None:
            where.append("split = ?")
            params.append(split)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        type_case = "CASE type " + " ".join(f"WHEN '{t}' THEN {c}" for t, c in TYPE_CODES.items()) + " ELSE -1 END"
        split_case = "CASE split " + " ".join(f"WHEN '{t}' THEN {c}" for t, c in SPLIT_CODES.items() if t) + " ELSE -1 END"
        # numbers come back as one float64 matrix (ids < 2**53 are exact); NULLs as sentinels
        # (timestamps are never negative; a missing value is flagged in its own column)
        rows = self._query(
            f"SELECT id, COALESCE(user_id, -1), COALESCE(item_id, -1), {type_case}, COALESCE(ts, -1.0), "
            f"COALESCE(ordinal, -1), {split_case}, COALESCE(value, 0.0), "
            f"CASE WHEN value IS NULL THEN 1 ELSE 0 END FROM events {clause} ORDER BY id", params)
        num = np.array(rows, dtype=np.float64).reshape(len(rows), 9)
        del rows
        codes: dict[str, int] = {}
        session = np.fromiter(
            (-1 if name is None else codes.setdefault(name, len(codes))
             for (name,) in self._query(f"SELECT session FROM events {clause} ORDER BY id", params)),
            dtype=np.int64, count=num.shape[0])
        ts = num[:, 4].copy()
        ts[ts < 0] = np.nan
        value = num[:, 7].copy()
        value[num[:, 8] == 1] = np.nan
        return Interactions(
            event_id=num[:, 0].astype(np.int64), user=num[:, 1].astype(np.int64), session=session,
            item=num[:, 2].astype(np.int64), type=num[:, 3].astype(np.int8), ts=ts,
            ordinal=num[:, 5].astype(np.int64), split=num[:, 6].astype(np.int8), value=value,
            session_names=list(codes),
        )

    def query_events(self, types: Sequence[str]) -> list[tuple[str, str]]:
        """``(query, item id)`` of events of ``types`` that carry the query that led to them."""
        marks = ",".join("?" * len(types))
        return [(q, ext) for q, ext in self._query(
            f"SELECT e.query, i.ext_id FROM events e JOIN items i ON i.id = e.item_id "
            f"WHERE e.query IS NOT NULL AND e.type IN ({marks}) ORDER BY e.id", list(types))]

    def search_log(self, limit: int = 100_000) -> list[tuple[str, str, float | None]]:
        """``(type, query, value)`` of the newest ``limit`` events that carry a query (searches, whose
        ``value`` is the number of results the shopper saw, and the clicks, carts and purchases that came
        from a search), oldest first: what search analytics read. Queries may be encrypted at rest
        (:func:`shopsage.privacy.cipher.reveal_query_events` reads them)."""
        rows = self._query("SELECT type, query, value FROM events WHERE query IS NOT NULL ORDER BY id DESC LIMIT ?",
                           (int(limit),))
        return [(str(t), str(q), None if v is None else float(v)) for t, q, v in reversed(rows)]

    def search_queries(self) -> list[tuple[str, str]]:
        """``(query, shopper)`` of every stored search event, oldest first; the shopper is the user's
        (pseudonymous) id, else the session's: autocomplete suggests a query only once enough distinct
        shoppers searched it. Queries may be encrypted at rest (``reveal_query_events`` reads them)."""
        return [(str(q), str(who)) for q, who in self._query(
            "SELECT e.query, COALESCE(u.ext_id, e.session) FROM events e LEFT JOIN users u ON u.id = e.user_id "
            "WHERE e.type = 'search' AND e.query IS NOT NULL ORDER BY e.id") if who is not None]

    def event_rates(self, bucket_s: float, since: float) -> list[tuple[float, str, int]]:
        """Timestamped events since ``since`` (epoch s) counted per ``bucket_s`` and type:
        ``(bucket start, type, count)`` in time order (events with ordinals only have no time: not counted)."""
        b = float(bucket_s)
        return [(float(k) * b, str(t), int(n)) for k, t, n in self._query(
            "SELECT CAST(FLOOR(ts / ?) AS BIGINT) AS k, type, COUNT(*) FROM events WHERE ts IS NOT NULL AND ts >= ? "
            "GROUP BY k, type ORDER BY k, type", (b, float(since)))]

    def judgments(self) -> list[tuple[str, str, float]]:
        return [(q, ext, float(g)) for q, ext, g in self._query(
            "SELECT j.query, i.ext_id, j.grade FROM judgments j JOIN items i ON i.id = j.item_id ORDER BY j.id")]

    def documents(self) -> Iterator[tuple[int, DocumentRow]]:
        for rid, name, line, pos, text, label, cat, lang in self._query(
                "SELECT d.id, s.name, d.line, d.pos, d.text, d.label, d.category, d.language "
                "FROM documents d JOIN sources s ON s.id = d.src ORDER BY d.id"):
            yield int(rid), DocumentRow(RowKey(name, int(line), int(pos)), text, label, cat, lang)

    def quarantined(self, limit: int = 100, offset: int = 0) -> list[QuarantineRow]:
        return [QuarantineRow(RowKey(name, int(line), int(pos)), reason, raw) for name, line, pos, reason, raw in self._query(
            "SELECT s.name, q.line, q.pos, q.reason, q.raw FROM quarantine q JOIN sources s ON s.id = q.src "
            "ORDER BY q.id LIMIT ? OFFSET ?", (limit, offset))]

    def event_rows(self, source: str, lines: Sequence[int]) -> list[EventRow]:
        """Stored events of the given source lines, as rows (for audits and crash tests)."""
        out = []
        for r in self._lookup(
            "events e JOIN sources s ON s.id = e.src LEFT JOIN users u ON u.id = e.user_id "
            "LEFT JOIN items i ON i.id = e.item_id", "e.line", list(lines),
            "s.name, e.line, e.pos, e.type, i.ext_id, u.ext_id, e.session, e.query, e.value, e.ts, e.ordinal, "
            "e.split, e.context, e.ext_id",
        ):
            if r[0] != source:
                continue
            out.append(EventRow(RowKey(r[0], int(r[1]), int(r[2])), r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                                r[10], r[11], json.loads(r[12]) if r[12] else None, r[13]))
        out.sort(key=lambda e: (e.key.line, e.key.pos))
        return out
