"""Versioned schema migrations, shared by every SQL backend.

Each migration is a list of statements written once; ``{pk}``, ``{bigint}``, ``{float}`` and
``{bool}`` are filled in per dialect. A store records the highest applied version in
``schema_version`` and applies the missing ones, in order, each in its own transaction.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "LATEST_VERSION", "SECONDARY_INDEXES", "TOMBSTONES_VERSION"]

MIGRATIONS: list[list[str]] = [
    # 1: the domain tables
    [
        "CREATE TABLE sources (id {pk}, name TEXT NOT NULL UNIQUE)",
        """CREATE TABLE items (
            id {pk}, ext_id TEXT NOT NULL UNIQUE, title TEXT, description TEXT,
            category_path TEXT, brand TEXT, price {float} CHECK (price IS NULL OR price >= 0),
            currency TEXT, attributes TEXT, available {bool} NOT NULL DEFAULT TRUE,
            stock INTEGER CHECK (stock IS NULL OR stock >= 0), created_at {float}, updated_at {float},
            language TEXT, digest {bigint})""",
        "CREATE TABLE users (id {pk}, ext_id TEXT NOT NULL UNIQUE)",
        # No foreign keys or CHECKs on events: the store hands out user and item ids itself and
        # validates each row in Python (SqlStore.write_events); per-row checks in SQLite would
        # cost more than half the import speed (measured: 249k -> 102k rows/s for the type check).
        """CREATE TABLE events (
            id {pk}, src {bigint} NOT NULL, line {bigint}, pos INTEGER,
            ext_id TEXT, user_id {bigint}, session TEXT, item_id {bigint},
            type TEXT NOT NULL, query TEXT, value {float}, ts {float}, ordinal {bigint},
            split TEXT, context TEXT, UNIQUE (src, line, pos))""",
        "CREATE UNIQUE INDEX events_ext_id ON events (ext_id) WHERE ext_id IS NOT NULL",
        """CREATE TABLE judgments (
            id {pk}, src {bigint} NOT NULL REFERENCES sources(id), line {bigint} NOT NULL, pos INTEGER NOT NULL,
            query TEXT NOT NULL, item_id {bigint} NOT NULL REFERENCES items(id), grade {float} NOT NULL,
            UNIQUE (src, line, pos))""",
        """CREATE TABLE documents (
            id {pk}, src {bigint} NOT NULL REFERENCES sources(id), line {bigint} NOT NULL, pos INTEGER NOT NULL,
            text TEXT NOT NULL, label TEXT, category TEXT, language TEXT,
            UNIQUE (src, line, pos))""",
        """CREATE TABLE quarantine (
            id {pk}, src {bigint} NOT NULL REFERENCES sources(id), line {bigint} NOT NULL, pos INTEGER NOT NULL,
            reason TEXT NOT NULL, raw TEXT, created_at {float}, UNIQUE (src, line, pos))""",
        """CREATE TABLE imports (
            id {pk}, format TEXT NOT NULL, path TEXT NOT NULL, finished_at {float}, summary TEXT)""",
    ],
    # 2: reads by judged query
    [
        "CREATE INDEX judgments_query ON judgments (query)",
    ],
    # 3: exactly-once ingest and erasure. One row per API request that carried an Idempotency-Key
    # (its SHA-256, never the key itself), written in the transaction of the request's events: the
    # body's digest (a reused key with another body is refused; NULL once its user was erased) and
    # the answer given, replayed to every retry. The request's events are keyed (source
    # "api/requests", line = this row's id, position in the batch). audit_log records erasures by a
    # hash of the id, never the id (refs: hashes of the user's sessions, so other workers drop them).
    [
        """CREATE TABLE ingest_requests (
            id {pk}, key_hash TEXT NOT NULL UNIQUE, digest TEXT, accepted INTEGER NOT NULL,
            duplicates INTEGER NOT NULL, quarantined INTEGER NOT NULL, created_at {float} NOT NULL)""",
        """CREATE TABLE audit_log (
            id {pk}, at {float} NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, counts TEXT, refs TEXT)""",
    ],
    # 4 (exposures): one row per item of each answer the service gave, keyed by the answer's id (search
    # query_id, recommendations recomm_id) and the item's 1-based position; written in batches by
    # shopsage.feedback.log off the request path. Ids are the pseudonyms the service saw; query is the
    # search's query scrubbed as events' queries are. Indexes serve attribution (item, time), reads by
    # time and experiment, and erasure (user, session).
    [
        """CREATE TABLE exposures (
            exposure_id TEXT NOT NULL, position INTEGER NOT NULL, kind TEXT NOT NULL, scenario TEXT NOT NULL,
            experiment TEXT, variant TEXT, user_id TEXT, session_id TEXT, item TEXT NOT NULL,
            propensity {float}, ts {float} NOT NULL, query TEXT, PRIMARY KEY (exposure_id, position))""",
        "CREATE INDEX exposures_ts ON exposures (ts)",
        "CREATE INDEX exposures_item_ts ON exposures (item, ts)",
        "CREATE INDEX exposures_experiment ON exposures (experiment, ts) WHERE experiment IS NOT NULL",
        "CREATE INDEX exposures_user ON exposures (user_id) WHERE user_id IS NOT NULL",
        "CREATE INDEX exposures_session ON exposures (session_id) WHERE session_id IS NOT NULL",
    ],
    # 5 (experiments): one row per experiment, created by `shopsage experiments create`, the API or the
    # shop's [[experiments]] config; definition is the validated ExperimentConfig as JSON (variants,
    # weights, salt, plan), status and times are columns so a stop is one UPDATE.
    [
        """CREATE TABLE experiments (
            name TEXT PRIMARY KEY, scope TEXT NOT NULL, status TEXT NOT NULL, definition TEXT NOT NULL,
            created_at {float} NOT NULL, stopped_at {float})""",
    ],
    # 6 (erasure tombstones, retention): one row per erased user and per session of theirs, by the same
    # hash the audit log keeps (never the id), so that no write path stores their events again
    # (shopsage.data.stores.tombstones; filled from the audit log of older stores when applied); pruning
    # of exactly-once records by age reads created_at.
    [
        """CREATE TABLE tombstones (
            subject TEXT PRIMARY KEY, kind TEXT NOT NULL, erasure {bigint} NOT NULL, at {float} NOT NULL)""",
        "CREATE INDEX tombstones_erasure ON tombstones (erasure)",
        "CREATE INDEX ingest_requests_created ON ingest_requests (created_at)",
    ],
    # 7 (bandit allocation): the probability the answer's variant had when a bandit chose it
    # (shopsage.experiments.allocation); NULL under a hash split and outside experiments.
    [
        "ALTER TABLE exposures ADD COLUMN variant_propensity {float}",
    ],
]
TOMBSTONES_VERSION = 6
"""The migration that created ``tombstones``: applying it fills them from the audit log's erasures."""

LATEST_VERSION = len(MIGRATIONS)

# Secondary indexes that serve per-user and per-session reads. A first bulk load into an empty
# events table drops them and builds them once at the end (as PostgreSQL's docs advise for
# bulk loads); every open re-creates any that a killed import left missing.
SECONDARY_INDEXES: dict[str, str] = {
    "events_user": "CREATE INDEX IF NOT EXISTS events_user ON events (user_id)",
    "events_session": "CREATE INDEX IF NOT EXISTS events_session ON events (session) WHERE session IS NOT NULL",
}
