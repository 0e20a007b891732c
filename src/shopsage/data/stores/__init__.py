"""Stores opened by URL: ``sqlite:///var/shop.db`` (embedded default) or ``postgresql://...``."""

from __future__ import annotations

from shopsage.data.stores.base import Interactions, Store, StoreReader, StoreStats, StoreWriter
from shopsage.errors import StoreURLError

__all__ = ["open_store", "Store", "StoreReader", "StoreWriter", "StoreStats", "Interactions", "DEFAULT_STORE_URL"]

DEFAULT_STORE_URL = "sqlite:///var/shop.db"


def open_store(url: str = DEFAULT_STORE_URL, *, create: bool = True) -> Store:
    """Open (and migrate) the store at ``url``; ``create=False`` (read-only commands) refuses a store that
    does not exist yet (no SQLite file, no PostgreSQL schema, no ShopSage tables) instead of creating it."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from shopsage.data.stores.sqlite import SqliteStore

        return SqliteStore(url, create=create)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from shopsage.data.stores.postgresql import PostgresStore

        return PostgresStore(url.replace("postgresql+psycopg", "postgresql", 1), create=create)
    raise StoreURLError(
        f"unknown store URL {url!r}: use sqlite:///path/to/shop.db (embedded, the default) "
        "or postgresql://user@host:5432/database"
    )
