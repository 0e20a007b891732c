"""Measure import speed: a fresh store per run, the same data, events per second."""

from __future__ import annotations

import time
from typing import Any

from shopsage.data.importers import get_importer, run_import
from shopsage.data.stores import open_store

__all__ = ["measure_import"]


def measure_import(fmt: str, path: str, url: str, repeats: int = 3, batch_size: int = 20_000) -> dict[str, Any]:
    """Import ``path`` into the empty store at ``url`` ``repeats`` times (emptied in between by the
    caller-supplied URL being fresh each time is not required: each run drops and recreates it).

    Returns the best and median events per second, with the summary counts of the last run.
    """
    runs = []
    summary = None
    for _ in range(repeats):
        _reset(url)
        store = open_store(url)
        started = time.perf_counter()
        summary = run_import(store, get_importer(fmt, path), batch_size=batch_size)
        seconds = time.perf_counter() - started
        events = summary.by_kind.get("events", 0)
        runs.append({"seconds": round(seconds, 3), "events": events, "rows": summary.read,
                     "events_per_s": round(events / seconds), "rows_per_s": round(summary.read / seconds)})
        store.close()
    _reset(url)
    rates = sorted(r["events_per_s"] for r in runs)
    assert summary is not None
    return {"format": fmt, "path": path, "store": url.split("://", 1)[0], "runs": runs,
            "best_events_per_s": rates[-1], "median_events_per_s": rates[len(rates) // 2],
            "accepted": summary.accepted, "quarantined": summary.quarantined}


def _reset(url: str) -> None:
    """Start from an empty store: delete a SQLite file, or drop a PostgreSQL schema."""
    if url.startswith("sqlite:"):
        from pathlib import Path

        from shopsage.data.stores.sqlite import SqliteStore

        path = SqliteStore.path_of(url)
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
    else:
        from shopsage.data.stores.postgresql import PostgresStore

        store = PostgresStore(url)
        store.drop_schema()
        store.close()
