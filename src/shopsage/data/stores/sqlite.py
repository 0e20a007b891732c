"""The embedded default store: one SQLite file (WAL mode; a killed process loses no committed batch)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from shopsage.data.stores.sql import SqlStore
from shopsage.errors import StoreError, StoreURLError

__all__ = ["SqliteStore"]


class SqliteStore(SqlStore):
    ddl_types = {"pk": "INTEGER PRIMARY KEY", "bigint": "INTEGER", "float": "REAL", "bool": "INTEGER"}

    def __init__(self, url: str, create: bool = True) -> None:
        path = self.path_of(url)
        if path != ":memory:" and not create and not Path(path).is_file():
            raise StoreError(f"no store at {path}: import data first with `shopsage import FORMAT PATH --store {url}`, "
                             "or check the path.")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {path}: {exc}. Check the path and its permissions.") from exc
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-65536")
        super().__init__(url, conn, create)

    def where(self) -> str:
        return self.path

    def _has_schema(self) -> bool:
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"))

    @staticmethod
    def path_of(url: str) -> str:
        if not url.startswith("sqlite://"):
            raise StoreURLError(f"{url!r} is not a SQLite URL; write sqlite:///relative/path.db or sqlite:////abs/path.db")
        path = url[len("sqlite://"):]
        if path in ("", "/"):
            raise StoreURLError(f"{url!r} names no file; write sqlite:///var/shop.db (or sqlite:///:memory:)")
        path = path[1:] if path.startswith("/") else path
        return path or ":memory:"

    def _insert_ignore(self, table: str, cols: Sequence[str]) -> str:
        return f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"

    def _begin(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def _migrate(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")  # serialise concurrent first opens
        self._conn.commit()
        super()._migrate()

    def integrity_check(self) -> str:
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])
