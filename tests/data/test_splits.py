"""Splits reproduce the published protocols exactly, on tiny stores with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.data.splits import Sequences, leave_one_out, session_prefix, temporal
from shopsage.data.stores import open_store
from shopsage.errors import ValidationError


@pytest.fixture()
def store(sqlite_url: str):  # type: ignore[no-untyped-def]
    s = open_store(sqlite_url)
    s.write_items([ItemRow(x, x) for x in "abcdefgh"])
    yield s
    s.close()


def test_leave_one_out_uses_time_then_ordinal(store) -> None:  # type: ignore[no-untyped-def]
    # written out of order: the split must order by timestamp, not by insertion
    store.write_events([EventRow(RowKey("f", 1, p), "purchase", x, "u", ts=t) for p, (x, t) in
                        enumerate([("c", 30.0), ("a", 10.0), ("d", 40.0), ("b", 20.0)])])
    split = leave_one_out(store)
    ext = split.items.externals
    assert ext(split.train[0]) == ["a", "b"]
    assert ext(split.valid.history[0]) == ["a", "b"] and ext(split.valid.target) == ["c"]
    assert ext(split.test.history[0]) == ["a", "b", "c"] and ext(split.test.target) == ["d"]
    assert ext(split.train_with_valid()[0]) == ["a", "b", "c"]
    assert split.n_items == 8  # every catalogue item has an index, events or not


def test_leave_one_out_is_deterministic(store) -> None:  # type: ignore[no-untyped-def]
    store.write_events([EventRow(RowKey("f", u, p), "purchase", x, f"u{u}", ordinal=p)
                        for u in range(5) for p, x in enumerate("abcdefgh"[u:u + 4])])
    a, b = leave_one_out(store), leave_one_out(store)
    assert np.array_equal(a.test.history.items, b.test.history.items) and np.array_equal(a.test.target, b.test.target)


def test_temporal_split(store) -> None:  # type: ignore[no-untyped-def]
    evs = [("u1", "a", 1.0), ("u1", "b", 2.0), ("u2", "c", 3.0), ("u2", "d", 4.0), ("u1", "e", 5.0),
           ("u2", "f", 6.0), ("u1", "g", 7.0), ("u1", "h", 8.0), ("u2", "a", 9.0), ("u2", "b", 10.0)]
    store.write_events([EventRow(RowKey("f", n, 0), "click", i, u, ts=t) for n, (u, i, t) in enumerate(evs)])
    split = temporal(store, test_fraction=0.2, valid_fraction=0.2)
    ext = split.items.externals
    u1, u2 = split.owners.index("u1"), split.owners.index("u2")
    assert ext(split.train[u1]) == ["a", "b", "e"] and ext(split.train[u2]) == ["c", "d", "f"]
    # validation: events in [q(0.6), q(0.8)); test: from q(0.8) on, history = everything before
    test_by_owner = {int(o): c for c, o in enumerate(split.test.owner)}
    assert sorted(ext(split.test.targets[test_by_owner[u2]])) == ["a", "b"]
    assert ext(split.test.history[test_by_owner[u2]])[:3] == ["c", "d", "f"]
    assert all(max(split.items.indexes(ext(split.valid.targets[c]))) >= 0 for c in range(len(split.valid)))


def test_temporal_refuses_ordinal_only_data(store) -> None:  # type: ignore[no-untyped-def]
    store.write_events([EventRow(RowKey("f", 1, 0), "purchase", "a", "u", ordinal=0)])
    with pytest.raises(ValidationError, match="timestamp"):
        temporal(store)


def test_session_prefix(store) -> None:  # type: ignore[no-untyped-def]
    for line, (items, split) in enumerate([("abc", "train"), ("de", "train"), ("abcd", "test"), ("ef", "test")], start=1):
        store.write_events([EventRow(RowKey("s", line, p), "click", x, None, f"s{line}", ordinal=p, split=split)
                            for p, x in enumerate(items)])
    sp = session_prefix(store, valid_fraction=0.0)
    ext = sp.items.externals
    assert [ext(sp.train[s]) for s in range(len(sp.train))] == [list("abc"), list("de")]
    assert [(ext(sp.test.history[c]), ext(sp.test.target[c:c + 1])) for c in range(len(sp.test))] == [
        (list("abc"), ["d"]), (["e"], ["f"])]
    expanded = session_prefix(store, expand=True, valid_fraction=0.0)
    assert [ext(expanded.test.history[c]) + ext(expanded.test.target[c:c + 1]) for c in range(len(expanded.test))] == [
        ["a", "b"], ["a", "b", "c"], ["a", "b", "c", "d"], ["e", "f"]]
    held = session_prefix(store, valid_fraction=0.5, seed=3)
    assert len(held.valid) == 1
    owner = int(held.valid.owner[0])
    full = [list("abc"), list("de")][owner]
    assert ext(held.train[owner]) == full[:-1] and ext(held.valid.target) == full[-1:]  # no leak of the target


def test_sequences_csr() -> None:
    seqs = Sequences.from_lists([[0, 2, 2], [], [1]])
    assert len(seqs) == 3 and list(seqs.lengths) == [3, 0, 1]
    mat = seqs.to_csr(3)
    assert mat.toarray().tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]
    assert seqs.to_csr(3, binary=False).toarray()[0].tolist() == [1, 0, 2]


def test_cold_start_items_are_a_stable_seeded_tenth() -> None:
    from shopsage.data.splits import cold_start_items

    ids = [f"item-{i}" for i in range(20_000)]
    held = cold_start_items(ids, 0.1, seed=0)
    assert 1_800 < len(held) < 2_200
    assert held == cold_start_items(list(reversed(ids)), 0.1, seed=0)  # order does not matter
    assert held != cold_start_items(ids, 0.1, seed=1)
