"""The store reads the dashboard adds (the query log, event rates per interval), on both backends."""

from __future__ import annotations

import pytest

from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.data.stores import open_store


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_search_log_and_event_rates(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    store = open_store(url)
    try:
        store.write_items([ItemRow("a", "A", None, (), None, 1.0, "EUR", None, True, 1, None, None, None),
                           ItemRow("b", "B", None, (), None, 2.0, "EUR", None, True, 1, None, None, None)])
        t0 = 1_700_000_000.0  # 200 s into a 300 s interval: the two searches fall 2 intervals apart
        rows = [EventRow(RowKey("live", 1, 0), "search", None, session="s1", query="Blue pen", value=3.0, ts=t0 + 10),
                EventRow(RowKey("live", 2, 0), "click", "a", session="s1", query="Blue pen", ts=t0 + 20),
                EventRow(RowKey("live", 3, 0), "search", None, session="s2", query="xyzzy", value=0.0, ts=t0 + 400),
                EventRow(RowKey("live", 4, 0), "view", "b", session="s2", ts=t0 + 410),
                EventRow(RowKey("live", 5, 0), "view", "a", session="s3", ordinal=1)]  # no time: not a rate
        store.write_events(rows)
        assert store.search_log() == [("search", "Blue pen", 3.0), ("click", "Blue pen", None),  # type: ignore[attr-defined]
                                      ("search", "xyzzy", 0.0)]
        assert store.search_log(limit=1) == [("search", "xyzzy", 0.0)]  # type: ignore[attr-defined]
        start = (t0 // 300) * 300
        assert store.event_rates(300, t0) == [(start, "click", 1), (start, "search", 1),  # type: ignore[attr-defined]
                                              (start + 600, "search", 1), (start + 600, "view", 1)]
        assert store.event_rates(300, t0 + 100) == [(start + 600, "search", 1), (start + 600, "view", 1)]  # type: ignore[attr-defined]
    finally:
        store.close()
