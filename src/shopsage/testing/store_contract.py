"""The contract every store backend passes (SQLite, PostgreSQL, and any added later).

A backend's test module subclasses :class:`StoreContract` and provides a ``store`` fixture that
yields a fresh, empty store; every test below then runs against it.
"""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.data.rows import DocumentRow, EventBlock, EventRow, ItemRow, JudgmentRow, QuarantineRow, RowKey
from shopsage.data.splits import leave_one_out
from shopsage.data.stores.base import SPLIT_CODES, TYPE_CODES
from shopsage.testing.erasure_contract import ErasureContract
from shopsage.testing.exposure_contract import ExposureContract

__all__ = ["StoreContract"]


def ev(line: int, item: str, user: str | None = "u1", pos: int = 0, **kw: object) -> EventRow:
    fields = {"type": "purchase", "ordinal": pos, **kw}
    return EventRow(RowKey("shop/events.txt", line, pos), item=item, user=user, **fields)  # type: ignore[arg-type]


class StoreContract(ExposureContract, ErasureContract):
    """Inherit and define a ``store`` fixture yielding an empty store of the backend under test."""

    def test_schema_is_current(self, store) -> None:  # type: ignore[no-untyped-def]
        from shopsage.data.stores.migrations import LATEST_VERSION

        assert store.schema_version() == LATEST_VERSION

    def test_items_insert_update_and_present(self, store) -> None:  # type: ignore[no-untyped-def]
        res = store.write_items([ItemRow("sku-1", "Red shoe", price=19.5, category_path=("shoes", "red")),
                                 ItemRow("sku-2", "Blue hat", attributes={"size": "M"}, stock=3)])
        assert (res.inserted, res.updated, res.already_present) == (2, 0, 0)
        res = store.write_items([ItemRow("sku-1", "Red shoe", price=19.5, category_path=("shoes", "red"))])
        assert (res.inserted, res.updated, res.already_present) == (0, 0, 1)
        res = store.write_items([ItemRow("sku-1", "Red shoe", price=17.0, category_path=("shoes", "red"))])
        assert (res.inserted, res.updated, res.already_present) == (0, 1, 0)
        got = dict((r.ext_id, r) for _, r in store.items())
        assert got["sku-1"].price == 17.0
        assert got["sku-1"].category_path == ("shoes", "red")
        assert got["sku-2"].attributes == {"size": "M"} and got["sku-2"].stock == 3

    def test_events_dedup_and_conflict(self, store) -> None:  # type: ignore[no-untyped-def]
        rows = [ev(1, "a", pos=0), ev(1, "b", pos=1), ev(2, "c", user="u2")]
        assert store.write_events(rows).inserted == 3
        again = store.write_events(rows)
        assert (again.inserted, again.already_present, again.conflicts) == (0, 3, [])
        changed = store.write_events([ev(1, "zzz", pos=1)])
        assert changed.inserted == 0 and len(changed.conflicts) == 1
        assert "conflicting duplicate" in changed.conflicts[0][1]
        assert store.stats().events == 3

    def test_event_ext_id_is_the_dedup_key(self, store) -> None:  # type: ignore[no-untyped-def]
        a = EventRow(RowKey("api", 0, 0), "view", "a", None, "s1", ts=100.0, ext_id="evt-1")
        b = EventRow(RowKey("api", 0, 1), "view", "a", None, "s1", ts=100.0, ext_id="evt-1")
        res = store.write_events([a, b])
        assert (res.inserted, res.already_present) == (1, 1)
        c = EventRow(RowKey("api", 0, 2), "view", "b", None, "s1", ts=100.0, ext_id="evt-1")
        assert len(store.write_events([c]).conflicts) == 1

    def test_invalid_events_are_refused_not_stored(self, store) -> None:  # type: ignore[no-untyped-def]
        rows = [ev(1, "a"), EventRow(RowKey("f", 2, 0), "teleport", "a", "u1", ordinal=0),
                EventRow(RowKey("f", 3, 0), "view", "a", "u1"), EventRow(RowKey("f", 4, 0), "view", "a", None, ordinal=1)]
        res = store.write_events(rows)
        assert res.inserted == 1
        assert [i for i, _ in res.conflicts] == [1, 2, 3]
        assert "unknown event type" in res.conflicts[0][1]
        assert store.stats().events == 1

    def test_event_block_roundtrip(self, store) -> None:  # type: ignore[no-untyped-def]
        block = EventBlock.uniform("shop/seq.txt", 7, "click", ["x", "y", "z"], session="s9", split="train")
        assert store.write_events(block).inserted == 3
        back = store.event_rows("shop/seq.txt", [7])
        assert [(e.item, e.session, e.ordinal, e.split, e.key.pos) for e in back] == [
            ("x", "s9", 0, "train", 0), ("y", "s9", 1, "train", 1), ("z", "s9", 2, "train", 2)]

    def test_event_fields_roundtrip(self, store) -> None:  # type: ignore[no-untyped-def]
        e = EventRow(RowKey("shop/live", 3, 0), "add_to_cart", "sku", "u7", "s7", "red shoes", 2.0, 1700000000.25,
                     None, None, {"page": "search", "position": 3})
        store.write_events([e])
        assert store.event_rows("shop/live", [3]) == [e]

    def test_interactions_columns(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_events([ev(1, "a", pos=0), ev(1, "b", pos=1),
                            EventRow(RowKey("f", 9, 0), "click", "a", None, "s1", ts=5.0, split="test")])
        inter = store.interactions()
        assert len(inter) == 3
        assert list(inter.type) == [TYPE_CODES["purchase"], TYPE_CODES["purchase"], TYPE_CODES["click"]]
        assert list(inter.split) == [-1, -1, SPLIT_CODES["test"]]
        assert inter.user[2] == -1 and inter.session[0] == -1 and inter.session_names[inter.session[2]] == "s1"
        assert np.isnan(inter.ts[0]) and inter.ts[2] == 5.0
        assert len(store.interactions(types=["click"])) == 1
        assert len(store.interactions(split="test")) == 1

    def test_interactions_after_a_position_read_what_arrived_since(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_events([ev(1, "a", ts=50.0), ev(2, "b", ts=60.0)])
        seen = store.interactions()
        position = int(seen.event_id.max())
        assert len(store.interactions(after=position)) == 0
        store.write_events([ev(3, "c", ts=10.0), ev(4, "a", ts=70.0, type="click")])  # the first arrives late
        new = store.interactions(after=position)
        assert list(new.ts) == [10.0, 70.0] and bool((new.event_id > position).all())
        assert sorted(np.concatenate([seen.event_id, new.event_id]).tolist()) == sorted(store.interactions().event_id.tolist())
        assert list(store.interactions(types=["click"], after=position).ts) == [70.0]

    def test_event_ids_are_committed_in_id_order_across_connections(self, store) -> None:  # type: ignore[no-untyped-def]
        import threading

        from shopsage.data.stores import open_store

        store.write_events([ev(0, "a", user="u1", ts=0.0), ev(0, "b", user="u2", pos=1, ts=0.0)])  # no row to wait on
        other, reader = open_store(store.url), open_store(store.url)  # another worker, and a reader
        try:
            with store.transaction():
                store.write_events([ev(1, "a", user="u1", ts=1.0)])  # holds its id, not yet committed
                later = threading.Thread(target=lambda: other.write_events([ev(2, "b", user="u2", ts=2.0)]))
                later.start()
                later.join(0.5)
                assert later.is_alive(), "a second writer's events committed while the first's were in flight"
                assert len(reader.interactions()) == 2
            later.join(30)
            inter = reader.interactions()
            assert inter.ts[np.argsort(inter.event_id)].tolist() == [0.0, 0.0, 1.0, 2.0]
        finally:
            other.close()
            reader.close()

    def test_judgments_documents_quarantine(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_items([ItemRow("p1", "Angle bracket")])
        res = store.write_judgments([JudgmentRow(RowKey("hd/train.csv", 2, 0), "angle bracket", "p1", 3.0)])
        assert res.inserted == 1
        assert store.write_judgments([JudgmentRow(RowKey("hd/train.csv", 2, 0), "angle bracket", "p1", 3.0)]).already_present == 1
        assert len(store.write_judgments([JudgmentRow(RowKey("hd/train.csv", 2, 0), "angle bracket", "p1", 1.0)]).conflicts) == 1
        assert store.judgments() == [("angle bracket", "p1", 3.0)]
        store.write_documents([DocumentRow(RowKey("zh.zip/x.csv", 2, 0), "很好", "1", "书籍", "zh")])
        assert [d.text for _, d in store.documents()] == ["很好"]
        q = [QuarantineRow(RowKey("f.csv", 5, 0), "negative price -3", "x,-3")]
        assert store.write_quarantine(q).inserted == 1
        assert store.write_quarantine(q).already_present == 1
        assert store.quarantined() == q
        stats = store.stats()
        assert (stats.judgments, stats.judged_queries, stats.documents, stats.quarantined) == (1, 1, 1, 1)

    def test_transaction_rolls_back_everything(self, store) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(RuntimeError), store.transaction():
            store.write_items([ItemRow("gone", "x")])
            store.write_events([ev(1, "gone")])
            raise RuntimeError("boom")
        assert store.stats().items == 0 and store.stats().events == 0
        store.write_events([ev(1, "back")])  # the id caches were reset with the rollback
        assert store.stats().items == 1

    def test_query_events(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_events([ev(1, "a", query="red shoe", type="click"), ev(2, "b", type="click"),
                            ev(3, "c", query="hat", type="purchase"), ev(4, "d", query="x", type="view")])
        assert store.query_events(["click", "purchase"]) == [("red shoe", "a"), ("hat", "c")]

    def test_stats_counts(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_events([ev(1, "a"), ev(2, "b", user="u2"), ev(3, "a", user="u2", type="view"),
                            EventRow(RowKey("f", 1, 0), "click", "a", None, "s1", ts=1.0, split="train")])
        st = store.stats()
        assert (st.users, st.items, st.events, st.sessions) == (2, 2, 4, 1)
        assert st.events_by_type["purchase"] == 2 and st.events_by_type["view"] == 1 and st.events_by_type["click"] == 1
        assert st.sessions_by_split == {"train": 1}
        assert st.events_per_user["max"] == 2.0

    def test_leave_one_out_from_store(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_items([ItemRow(x, x) for x in "abcdef"])
        store.write_events([ev(1, x, pos=p) for p, x in enumerate("abcd")] + [ev(2, x, user="u2", pos=p) for p, x in enumerate("ef")])
        split = leave_one_out(store)
        a, b, c, d = (split.items.index(x) for x in "abcd")
        u1 = split.owners.index("u1")
        assert list(split.train[u1]) == [a, b]
        assert list(split.valid.history[0]) == [a, b] and list(split.valid.target) == [c]
        assert list(split.test.history[0]) == [a, b, c] and list(split.test.target) == [d]
        assert len(split.test) == 1  # u2 has 2 events: training only

    def test_ids_are_given_in_order_of_first_appearance(self, store) -> None:  # type: ignore[no-untyped-def]
        """Row ids never depend on the process's hash seed: splits are identical in every process."""
        users = [f"user-{(i * 37) % 60}" for i in range(60)]
        items = [f"stub-{(i * 11) % 45}" for i in range(60)]
        store.write_events([ev(i, items[i], user=users[i], pos=0) for i in range(60)])
        assert list(store.user_ids()) == list(dict.fromkeys(users))
        assert list(store.item_ids()) == list(dict.fromkeys(items))
        assert leave_one_out(store).owners.ids == [u for u in dict.fromkeys(users)]

    # -- the live API's ledger: exactly-once requests, unknown items, erasure -------------------
    def test_a_request_key_is_answered_from_the_store_across_connections(self, store) -> None:  # type: ignore[no-untyped-def]
        from shopsage.data.stores import open_store
        from shopsage.errors import IdempotencyKeyReusedError

        store.write_items([ItemRow(x, x) for x in "ab"])
        batch = [live(0, "a"), live(1, "b"), live(2, "a", ext_id="e-1")]
        first = store.ingest_events(batch, request_key="k-1", digest="d1")
        assert (first.accepted, first.duplicates, first.quarantined, first.replayed) == (3, 0, 0, False)
        assert first.inserted == [0, 1, 2]
        other = open_store(store.url)  # another worker, or the service after a restart
        try:
            again = other.ingest_events(batch, request_key="k-1", digest="d1")
            assert again.answer() == {**first.answer(), "replayed": True} and again.inserted == []
            with pytest.raises(IdempotencyKeyReusedError, match="another body"):
                other.ingest_events(batch[:1], request_key="k-1", digest="d2")
        finally:
            other.close()
        assert store.stats().events == 3  # the events without an id were not stored twice
        raw = str(store._query("SELECT * FROM ingest_requests"))
        assert "k-1" not in raw  # the key is kept as a hash only

    def test_an_event_id_is_stored_once_and_identical_content_is_a_duplicate(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_items([ItemRow(x, x) for x in "ab"])
        assert store.ingest_events([live(0, "a", ext_id="e-1")]).accepted == 1
        out = store.ingest_events([live(0, "a", ext_id="e-1"), live(1, "b", ext_id="e-2"), live(1, "b", ext_id="e-2")])
        assert (out.accepted, out.duplicates, out.inserted) == (1, 2, [1])
        # a server-given timestamp is no part of the content: a retry stamped later is the same event
        late = live(0, "a", ext_id="e-1")._replace(ts=999.0)
        assert store.ingest_events([late], stamped=[0]).duplicates == 1
        assert store.stats().events == 2

    def test_an_id_reused_with_other_content_refuses_the_whole_request(self, store) -> None:  # type: ignore[no-untyped-def]
        from shopsage.errors import EventConflictError

        store.write_items([ItemRow(x, x) for x in "ab"])
        store.ingest_events([live(0, "a", ext_id="e-1")])
        with pytest.raises(EventConflictError, match="'e-1' is already stored with other content") as err:
            store.ingest_events([live(0, "b"), live(1, "b", ext_id="e-1")], request_key="k-2", digest="d")
        assert err.value.detail == [{"id": "e-1", "stored": {**_LIVE_JSON, "id": "e-1", "item": "a", "timestamp": 100.0},
                                     "sent": {**_LIVE_JSON, "id": "e-1", "item": "b", "timestamp": 101.0}}]
        assert store.stats().events == 1  # nothing of that request, and no record of its key
        fixed = store.ingest_events([live(0, "b"), live(1, "b", ext_id="e-2")], request_key="k-2", digest="d")
        assert fixed.accepted == 2 and not fixed.replayed

    @pytest.mark.parametrize("policy", ["quarantine", "reject", "accept"])
    def test_events_for_unknown_items(self, store, policy: str) -> None:  # type: ignore[no-untyped-def]
        from shopsage.errors import UnknownItemsError

        store.write_items([ItemRow("a", "a")])
        batch = [live(0, "a"), live(1, "ghost"), live(2, "ghost", ext_id="e-9")]
        if policy == "reject":
            with pytest.raises(UnknownItemsError, match="1 items that are not in the catalogue: 'ghost'"):
                store.ingest_events(batch, unknown_items=policy)
            assert store.stats().events == 0
        else:
            out = store.ingest_events(batch, request_key="k", digest="d", unknown_items=policy)
            held = 2 if policy == "quarantine" else 0
            assert (out.accepted, out.quarantined, out.inserted) == (3 - held, held, [0] if held else [0, 1, 2])
            assert store.ingest_events(batch, request_key="k", digest="d", unknown_items=policy).quarantined == held
            assert store.stats().quarantined == held and store.stats().events == 3 - held
            if held:
                assert all("unknown item 'ghost'" in q.reason for q in store.quarantined())
        assert ("ghost" in store.item_ids()) == (policy == "accept")

    def test_concurrent_requests_store_each_event_once(self, store) -> None:  # type: ignore[no-untyped-def]
        import threading

        from shopsage.data.stores import open_store

        store.write_items([ItemRow(x, x) for x in "ab"])
        stores = [store, store] + [open_store(store.url) for _ in range(2)]  # threads on one store, and other connections
        answers: list = []
        errors: list = []

        def post(s, k: int) -> None:  # type: ignore[no-untyped-def]
            try:
                for j in range(10):
                    batch = [live(j, "a", ext_id=f"shared-{j}"), live(j, "b", ext_id=f"own-{k}-{j}")]
                    answers.append(("req", s.ingest_events(batch, request_key=f"req-{j}", digest=f"d{j}")))
                    answers.append(("solo", s.ingest_events(batch[:1], request_key=f"solo-{k}-{j}", digest="x")))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=post, args=(s, k)) for k, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in stores[2:]:
            s.close()
        assert errors == []
        assert store.stats().events == 10 + 10  # shared-j once; own-k-j only for the request that won req-j
        assert sum(a.accepted for _, a in answers if not a.replayed) == 20  # every stored event acknowledged once
        assert sum(not a.replayed for kind, a in answers if kind == "req") == 10  # one first answer per key
        assert all(a.accepted + a.duplicates == 2 for kind, a in answers if kind == "req")

    def test_erase_user_removes_their_events_sessions_and_audits_it(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_items([ItemRow(x, x) for x in "abc"])
        mine = [live(0, "a", user="alice", session="s-a"), live(1, "b", user=None, session="s-a"),
                live(2, "c", user="alice", session="s-b"), live(3, "ghost", user="alice")]
        store.ingest_events(mine, request_key="k-alice", digest="d")
        store.ingest_events([live(0, "a", user="bob", session="s-bob")], request_key="k-bob", digest="d")
        store.write_events([ev(1, "a", user="alice"), ev(2, "b", user="carol")])  # an import
        assert store.user_sessions("alice") == ["s-a", "s-b"]
        counts = store.erase_user("alice")
        assert counts == {"events": 4, "sessions": 2, "users": 1, "requests": 1, "quarantined": 1, "exposures": 0}
        assert "alice" not in store.user_ids() and store.user_sessions("alice") == []
        left = store.interactions()
        assert len(left) == 2 and sorted(left.session_names) == ["s-bob"]
        assert store.quarantined() == []
        assert store._query("SELECT digest FROM ingest_requests ORDER BY id") == [(None,), ("d",)]
        # a late retry of the erased request is answered from its record, not stored again
        assert store.ingest_events(mine, request_key="k-alice", digest="d").replayed
        assert "alice" not in store.user_ids()
        (record,) = store.audit_log()
        assert record["action"] == "erase_user" and record["counts"] == counts
        dump = " ".join(str(r) for t in ("audit_log", "ingest_requests", "users", "events", "quarantine")
                        for r in store._query(f"SELECT * FROM {t}"))
        assert "alice" not in dump and "s-a" not in dump
        assert store.erase_user("nobody")["events"] == 0 and len(store.audit_log()) == 2


_LIVE_JSON = {"type": "view", "user": "u1", "session": "s1"}


def live(pos: int, item: str, user: str | None = "u1", session: str | None = "s1", **kw: object) -> EventRow:
    """An event as the API sends it (the store keys it by the request when the request has a key)."""
    return EventRow(RowKey("api/test", 1, pos), "view", item, user, session, ts=100.0 + pos, **kw)  # type: ignore[arg-type]
