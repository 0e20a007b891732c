"""The store contract, run against every backend."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopsage.data.rows import ItemRow
from shopsage.data.stores import open_store
from shopsage.errors import SchemaVersionError, StoreError, StoreURLError
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


def test_read_only_open_refuses_a_missing_file_and_creates_nothing(tmp_path: Path) -> None:
    for path in (tmp_path / "typo.db", tmp_path / "nope" / "shop.db"):
        with pytest.raises(StoreError, match=r"no store at .*: import data first with `shopsage import FORMAT PATH "
                                             r"--store sqlite:///.*`, or check the path"):
            open_store(f"sqlite:///{path}", create=False)
    assert list(tmp_path.iterdir()) == []


def test_read_only_open_refuses_a_sqlite_file_of_another_program(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="no ShopSage store at .*other.db: it holds no ShopSage tables"):
        open_store(f"sqlite:///{path}", create=False)
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["notes"]
    conn.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_read_only_open_reads_what_an_import_wrote(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    if backend == "postgresql":
        with pytest.raises(StoreError, match=r"no store in schema 'ss_test_\w+' of .*: import data first"):
            open_store(url, create=False)
        import psycopg

        from shopsage.data.stores.postgresql import split_schema

        dsn, schema = split_schema(url)
        with psycopg.connect(dsn, autocommit=True) as conn:  # the schema was not created by the refused open
            assert conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                                (schema,)).fetchone() is None
            conn.execute(f'CREATE SCHEMA "{schema}"')  # an empty schema is no store either
        with pytest.raises(StoreError, match="holds no ShopSage tables"):
            open_store(url, create=False)
    s = open_store(url)
    s.write_items([ItemRow("sku-1", "Red shoe")])
    s.record_import("table", "shop/items.csv", {"read": 1})
    s.record_import("recbole", "data/amazon-scientific", {"read": 2})
    s.close()
    r = open_store(url, create=False)
    assert r.stats().items == 1
    assert r.imports() == [("table", "shop/items.csv"), ("recbole", "data/amazon-scientific")]
    r.close()


@pytest.mark.parametrize(("query", "level"), [("", 2), ("?synchronous=full", 2), ("?synchronous=NORMAL", 1)])
def test_sqlite_durability_is_chosen_by_the_url(tmp_path: Path, query: str, level: int) -> None:
    """PRAGMA synchronous: 2 = FULL (the default: a commit survives a power cut), 1 = NORMAL."""
    s = open_store(f"sqlite:///{tmp_path / 'shop.db'}{query}")
    assert s._query("PRAGMA synchronous")[0][0] == level
    assert s.path == str(tmp_path / "shop.db")
    s.close()


def test_sqlite_url_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(StoreURLError, match=r"synchronous=off is not a valid value; the options are "
                                            r"\?synchronous=full"):
        open_store(f"sqlite:///{tmp_path / 'shop.db'}?synchronous=off")
    with pytest.raises(StoreURLError, match="journal=wal is not a SQLite store option"):
        open_store(f"sqlite:///{tmp_path / 'shop.db'}?journal=wal")
    for bad in ("0", "-5", "65537", "1.5", "lots", "", "\u0661"):  # \u0661: an Arabic-Indic digit one
        with pytest.raises(StoreURLError, match=rf"cache_mb={bad} is not a valid value; .*1 to 65536, default 64"):
            open_store(f"sqlite:///{tmp_path / 'shop.db'}?cache_mb={bad}")
    with pytest.raises(StoreURLError, match="cache_mb is given twice"):
        open_store(f"sqlite:///{tmp_path / 'shop.db'}?cache_mb=8&cache_mb=16")


@pytest.mark.parametrize(("query", "kib"), [("", 65536), ("?cache_mb=1", 1024), ("?synchronous=normal&cache_mb=256", 262144)])
def test_sqlite_page_cache_is_chosen_by_the_url(tmp_path: Path, query: str, kib: int) -> None:
    """PRAGMA cache_size: negative values are KiB (64 MiB by default)."""
    s = open_store(f"sqlite:///{tmp_path / 'shop.db'}{query}")
    assert s._query("PRAGMA cache_size")[0][0] == -kib
    assert s.path == str(tmp_path / "shop.db")
    s.close()
