"""Versioned schema migrations, shared by every SQL backend.

Each migration is a list of statements written once; ``{pk}``, ``{bigint}``, ``{float}`` and
``{bool}`` are filled in per dialect. A store records the highest applied version in
``schema_version`` and applies the missing ones, in order, each in its own transaction.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "LATEST_VERSION"]

_EVENT_TYPES = "'impression','view','click','add_to_cart','purchase','search','rating'"

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
        f"""CREATE TABLE events (
            id {{pk}}, src {{bigint}} REFERENCES sources(id), line {{bigint}}, pos INTEGER,
            ext_id TEXT, user_id {{bigint}} REFERENCES users(id), session TEXT,
            item_id {{bigint}} REFERENCES items(id),
            type TEXT NOT NULL CHECK (type IN ({_EVENT_TYPES})),
            query TEXT, value {{float}}, ts {{float}}, ordinal {{bigint}},
            split TEXT CHECK (split IS NULL OR split IN ('train','valid','test')),
            context TEXT, digest {{bigint}} NOT NULL,
            CHECK (ts IS NOT NULL OR ordinal IS NOT NULL),
            CHECK (user_id IS NOT NULL OR session IS NOT NULL),
            UNIQUE (src, line, pos))""",
        "CREATE UNIQUE INDEX events_ext_id ON events (ext_id)",
        "CREATE INDEX events_user ON events (user_id)",
        "CREATE INDEX events_session ON events (session)",
        "CREATE INDEX events_item ON events (item_id)",
        """CREATE TABLE judgments (
            id {pk}, src {bigint} NOT NULL REFERENCES sources(id), line {bigint} NOT NULL, pos INTEGER NOT NULL,
            query TEXT NOT NULL, item_id {bigint} NOT NULL REFERENCES items(id), grade {float} NOT NULL,
            digest {bigint} NOT NULL, UNIQUE (src, line, pos))""",
        """CREATE TABLE documents (
            id {pk}, src {bigint} NOT NULL REFERENCES sources(id), line {bigint} NOT NULL, pos INTEGER NOT NULL,
            text TEXT NOT NULL, label TEXT, category TEXT, language TEXT, digest {bigint} NOT NULL,
            UNIQUE (src, line, pos))""",
        """CREATE TABLE quarantine (
            id {pk}, src {bigint} NOT NULL REFERENCES sources(id), line {bigint} NOT NULL, pos INTEGER NOT NULL,
            reason TEXT NOT NULL, raw TEXT, created_at {float}, UNIQUE (src, line, pos))""",
        """CREATE TABLE imports (
            id {pk}, format TEXT NOT NULL, path TEXT NOT NULL, finished_at {float}, summary TEXT)""",
    ],
    # 2: reads by time and by judged query
    [
        "CREATE INDEX events_user_order ON events (user_id, ts, ordinal, id)",
        "CREATE INDEX judgments_query ON judgments (query)",
    ],
]

LATEST_VERSION = len(MIGRATIONS)
