"""The store contract, run against every backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shopsage.data.stores import open_store
from shopsage.errors import SchemaVersionError, StoreURLError
from shopsage.testing.store_contract import StoreContract


class TestSqliteStore(StoreContract):
    @pytest.fixture()
    def store(self, sqlite_url: str) -> Iterator[object]:
        s = open_store(sqlite_url)
        yield s
        s.close()


class TestPostgresStore(StoreContract):
    @pytest.fixture()
    def store(self, pg_url: str) -> Iterator[object]:
        s = open_store(pg_url)
        yield s
        s.close()


def test_unknown_scheme_says_what_to_write() -> None:
    with pytest.raises(StoreURLError, match="sqlite:///"):
        open_store("mysql://localhost/shop")


def test_sqlite_url_without_path() -> None:
    with pytest.raises(StoreURLError, match="names no file"):
        open_store("sqlite://")


def test_reopen_is_idempotent_and_newer_schema_is_refused(sqlite_url: str) -> None:
    s = open_store(sqlite_url)
    v = s.schema_version()
    s._exec("INSERT INTO schema_version (version) VALUES (?)", (v + 5,))
    s._conn.commit()
    s.close()
    with pytest.raises(SchemaVersionError, match="Upgrade ShopSage"):
        open_store(sqlite_url)


def test_migrations_apply_in_order_from_an_older_schema(sqlite_url: str) -> None:
    """A store created at version 1 is brought to the latest version on open."""
    from shopsage.data.stores.migrations import LATEST_VERSION, MIGRATIONS

    original = list(MIGRATIONS)
    try:
        del MIGRATIONS[1:]
        from shopsage.data.stores import sql

        sql.LATEST_VERSION = 1
        s = open_store(sqlite_url)
        assert s.schema_version() == 1
        s.close()
    finally:
        MIGRATIONS[:] = original
        from shopsage.data.stores import sql

        sql.LATEST_VERSION = LATEST_VERSION
    s = open_store(sqlite_url)
    assert s.schema_version() == LATEST_VERSION
    names = {r[0] for r in s._query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "judgments_query" in names  # created by migration 2
    s.close()


def test_killed_bulk_load_indexes_are_rebuilt_on_open(sqlite_url: str) -> None:
    s = open_store(sqlite_url)
    s._exec("DROP INDEX events_user")
    s._conn.commit()
    s.close()
    s = open_store(sqlite_url)
    names = {r[0] for r in s._query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"events_user", "events_session"} <= names
    s.close()
