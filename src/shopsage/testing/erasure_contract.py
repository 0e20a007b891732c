"""The erasure and retention part of the store contract: an erased user stays erased on every write
path, a tombstone can be lifted on purpose, and exactly-once records are pruned by age.

:class:`~shopsage.testing.store_contract.StoreContract` inherits it, so each backend's ``store``
fixture runs these tests too.
"""

from __future__ import annotations

from shopsage.data.rows import EventRow, ItemRow, QuarantineRow, RowKey
from shopsage.testing.exposure_contract import shown

__all__ = ["ErasureContract"]

_SECRET = "zq9 grandma's widget"  # a query of alice's: no quarantine row or reason may keep it


def _file(line: int, item: str, user: str | None, session: str | None, query: str = _SECRET) -> EventRow:
    return EventRow(RowKey("shop/events.jsonl", line, 0), "search", item, user, session, query, ts=100.0 + line)


def _api(pos: int, item: str, user: str | None, session: str | None, ext_id: str | None = None) -> EventRow:
    return EventRow(RowKey("api/test", 7, pos), "view", item, user, session, ts=200.0 + pos, ext_id=ext_id)


def _alice_then_erased(store) -> list[EventRow]:  # type: ignore[no-untyped-def]
    """A file's rows (alice's, one session-only row of her session, carol's), imported, then alice erased."""
    store.write_items([ItemRow(x, x) for x in "abc"])
    rows = [_file(1, "a", "alice", "s-a"), _file(2, "b", None, "s-a"), _file(3, "c", "carol", "s-c", "red shoe"),
            _file(4, "a", "alice", None)]
    assert store.write_events(rows).inserted == 4
    store.write_exposures(shown("r-1", ["a", "b"], 100.0, user="alice", session="s-a"))
    store.erase_user("alice")
    assert store.stats().events == 1
    return rows


def _dump(store) -> str:  # type: ignore[no-untyped-def]
    tables = ("events", "users", "quarantine", "exposures", "ingest_requests", "tombstones", "audit_log")
    return "\n".join(repr(r) for t in tables for r in store._query(f"SELECT * FROM {t}"))


class ErasureContract:
    """Inherit and define a ``store`` fixture yielding an empty store of the backend under test."""

    def test_a_reimport_does_not_bring_an_erased_user_back(self, store) -> None:  # type: ignore[no-untyped-def]
        from shopsage.data.stores.tombstones import ERASED_REASON, REDACTED_RAW

        rows = _alice_then_erased(store)
        again = store.write_events(rows)  # the same file, imported again
        assert (again.inserted, again.already_present) == (0, 1)  # carol's row is there already
        assert again.conflicts == [(0, ERASED_REASON), (1, ERASED_REASON), (3, ERASED_REASON)]
        assert "alice" not in store.user_ids() and store.user_sessions("alice") == []
        assert store.interactions().session_names == ["s-c"]
        # the import runner quarantines conflicts with the row's text: the store keeps none of it
        store.write_quarantine([QuarantineRow(rows[i].key, why, repr(tuple(rows[i]))) for i, why in again.conflicts])
        held = store.quarantined()
        assert [q.key.line for q in held] == [1, 2, 4]
        assert {(q.reason, q.raw) for q in held} == {(ERASED_REASON, REDACTED_RAW)}
        assert "alice" not in ERASED_REASON
        text = _dump(store)
        for marker in ("alice", "s-a", _SECRET):
            assert marker not in text, f"{marker!r} is stored again"
        assert "carol" in text and "s-c" in text, "control: the dump holds what was not erased"

    def test_other_rejects_naming_an_erased_id_are_kept_redacted(self, store) -> None:  # type: ignore[no-untyped-def]
        from shopsage.data.stores.tombstones import ERASED_REASON, REDACTED_RAW

        rows = _alice_then_erased(store)
        robot = QuarantineRow(RowKey("shop/events.jsonl", 9, 0), "robot filter: more than 60 events a minute from "
                              "alice", repr(tuple(rows[0])))
        by_session = QuarantineRow(RowKey("shop/events.jsonl", 10, 0), "exact duplicate: item a appears again",
                                   '{"session": "s-a", "item": "a"}')
        other = QuarantineRow(RowKey("shop/events.jsonl", 11, 0), "robot filter: more than 60 events a minute from "
                              "carol", "('carol', 'alice-like')")  # "alice-like" is another word than "alice"
        assert store.write_quarantine([robot, by_session, other]).inserted == 3
        assert [(q.reason, q.raw) for q in store.quarantined()] == [(ERASED_REASON, REDACTED_RAW)] * 2 + [other[1:]]

    def test_late_api_events_are_quarantined_redacted_and_answered(self, store) -> None:  # type: ignore[no-untyped-def]
        from shopsage.data.stores.tombstones import REDACTED_RAW

        _alice_then_erased(store)
        batch = [_api(0, "a", "alice", "s-new", "late-1"), _api(1, "b", None, "s-a"), _api(2, "c", "dave", "s-d")]
        out = store.ingest_events(batch, request_key="k-late", digest="d")
        assert (out.accepted, out.duplicates, out.quarantined, out.inserted) == (1, 0, 2, [2])
        replay = store.ingest_events(batch, request_key="k-late", digest="d")
        assert replay.replayed and (replay.accepted, replay.quarantined) == (1, 2)
        assert store.ingest_events(batch[:1]).quarantined == 1  # without a key too
        assert [q.raw for q in store.quarantined()] == [REDACTED_RAW] * 3
        assert sorted(store.user_ids()) == ["carol", "dave"]
        assert "late-1" not in _dump(store) and "alice" not in _dump(store)

    def test_exposures_of_an_erased_user_or_session_are_refused(self, store) -> None:  # type: ignore[no-untyped-def]
        from shopsage.data.stores.tombstones import ERASED_REASON

        _alice_then_erased(store)
        rows = shown("r-1", ["a"], 100.0, user="alice", session=None) + shown("r-2", ["a"], 100.0, user=None, session="s-a") \
            + shown("r-3", ["a"], 100.0, user="carol", session="s-c")
        res = store.write_exposures(rows)
        assert res.inserted == 1 and res.conflicts == [(0, ERASED_REASON), (1, ERASED_REASON)]
        assert [r.exposure_id for r in store.read_exposures()] == ["r-3"]

    def test_a_lifted_tombstone_lets_the_events_in_again(self, store) -> None:  # type: ignore[no-untyped-def]
        rows = _alice_then_erased(store)
        assert store.lift_erasure("nobody") == {"users": 0, "sessions": 0}
        assert store.lift_erasure("alice") == {"users": 1, "sessions": 1}
        assert store.write_events(rows).inserted == 3
        assert "alice" in store.user_ids()
        actions = [a for (a,) in store._query("SELECT action FROM audit_log ORDER BY id")]
        assert actions == ["erase_user", "lift_erasure"]
        store.erase_user("alice")  # erased again: buried again
        assert store.write_events(rows).inserted == 0

    def test_erasures_audited_before_the_tombstones_are_filled_in(self, store) -> None:  # type: ignore[no-untyped-def]
        from shopsage.data.stores import tombstones

        rows = _alice_then_erased(store)
        with store.transaction():  # a store migrated from version 5: the audit log only
            store._exec("DELETE FROM tombstones")
        assert store.write_events(rows[:1]).inserted == 1, "control: without tombstones the row is stored"
        store.erase_user("alice")
        with store.transaction():
            store._exec("DELETE FROM tombstones")
            assert tombstones.backfill(store) == 2  # alice, and her session s-a (counted once each)
        assert store.write_events(rows).inserted == 0

    def test_exactly_once_records_are_pruned_by_age_and_recent_ones_still_answer(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_items([ItemRow(x, x) for x in "ab"])
        old = store.ingest_events([_api(0, "a", "u1", "s1", "e-old"), _api(1, "b", "u1", "s1")], request_key="k-old", digest="d")
        with store.transaction():
            store._exec("UPDATE ingest_requests SET created_at = created_at - 8 * 86400")
        store.ingest_events([_api(0, "a", "u2", "s2")], request_key="k-new", digest="d")
        newest = store.ingest_events([_api(0, "b", "u3", "s3")], request_key="k-newest", digest="d")
        with store.transaction():  # the newest record is old too: it stays all the same (its id is never reused)
            store._exec("UPDATE ingest_requests SET created_at = 0 WHERE key_hash = (SELECT MAX(key_hash) FROM "
                        "ingest_requests WHERE id = (SELECT MAX(id) FROM ingest_requests))")
        import time

        assert store.prune_requests(time.time() - 7 * 86400) == 1
        assert store.prune_requests(time.time() - 7 * 86400) == 0
        assert store._query("SELECT COUNT(*) FROM ingest_requests")[0][0] == 2
        assert store.ingest_events([_api(0, "a", "u2", "s2")], request_key="k-new", digest="d").replayed
        assert store.ingest_events([_api(0, "b", "u3", "s3")], request_key="k-newest", digest="d").replayed
        retry = store.ingest_events([_api(0, "a", "u1", "s1", "e-old"), _api(1, "b", "u1", "s1")], request_key="k-old",
                                    digest="d")
        # past the window a retry is a new request: the event with an id is still a duplicate, the other is new
        assert not retry.replayed and (retry.accepted, retry.duplicates) == (1, 1)
        assert old.accepted == 2 and not newest.replayed
        fresh = store.ingest_events([_api(0, "a", "u4", "s4")], request_key="k-after", digest="d")
        assert fresh.accepted == 1, "a request after pruning gets a new record (and new event keys)"
