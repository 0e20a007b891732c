"""One contract for every state backend: memory:// and redis:// (the real server, a unique prefix per
test; fixtures in conftest.py). Expiry, caps and forgetting: test_bounds.py."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from shopsage.errors import StoreError, StoreURLError
from shopsage.state import StateStore, Touch, open_state


def test_claim_is_once_per_id(state: StateStore) -> None:
    assert state.claim(["a", "b"]) == [True, True]
    assert state.claim(["b", "c"]) == [False, True]
    assert state.claim([]) == []


def test_claim_is_atomic_across_threads(state: StateStore) -> None:
    wins: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        got = state.claim(["same"])[0]
        with lock:
            wins.append(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_touches_newest_first_per_user_and_session(state: StateStore) -> None:
    state.record("u1", "s1", [Touch("i1", "view", 1.0), Touch("i2", "purchase", 2.0)])
    state.record(None, "s1", [Touch("i3", "click", 3.0)])
    assert state.user_touches("u1") == [Touch("i2", "purchase", 2.0), Touch("i1", "view", 1.0)]
    assert [t.item for t in state.session_touches("s1")] == ["i3", "i2", "i1"]
    assert state.session_touches("s1", n=1) == [Touch("i3", "click", 3.0)]
    assert state.user_touches("nobody") == []
    assert state.purchased("u1") == {"i2"}
    assert state.purchased("nobody") == set()


def test_record_many_equals_one_record_per_group(state: StateStore) -> None:
    state.record_many([("u1", "s1", [Touch("i1", "view", 1.0)]), (None, "s2", [Touch("i2", "click", 2.0)]),
                       ("u1", "s3", [Touch("i3", "purchase", 3.0)]), ("u2", None, [])])
    assert [t.item for t in state.user_touches("u1")] == ["i3", "i1"]
    assert state.session_touches("s1") == [Touch("i1", "view", 1.0)]
    assert state.session_touches("s2") == [Touch("i2", "click", 2.0)]
    assert state.purchased("u1") == {"i3"}
    assert state.user_touches("u2") == []


def test_recent_limit_drops_the_oldest() -> None:
    from shopsage.state.memory import MemoryState

    st = MemoryState(recent_limit=3)
    st.record("u", None, [Touch(f"i{k}", "view", float(k)) for k in range(5)])
    assert [t.item for t in st.user_touches("u")] == ["i4", "i3", "i2"]


def test_popularity_accumulates(state: StateStore) -> None:
    state.bump_popularity({"a": 1.0, "b": 3.0})
    state.bump_popularity({"a": 4.0})
    assert state.popularity(2) == [("a", 5.0), ("b", 3.0)]
    assert state.popularity(1) == [("a", 5.0)]


def test_catalog_change_log(state: StateStore) -> None:
    v0, _ = state.catalog_changes(0)
    v1 = state.publish_catalog(["x", "y"])
    assert v1 == v0 + 2
    v2 = state.publish_catalog(["z"])
    assert state.catalog_changes(v1) == (v2, ["z"])
    assert state.catalog_changes(v2) == (v2, [])
    assert state.ping()


def test_unknown_url_says_what_to_use() -> None:
    with pytest.raises(StoreURLError, match="memory://"):
        open_state("mongo://x")


def test_unreachable_redis_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="--state memory://"):
        open_state("redis://127.0.0.1:1/0")


def test_forgets_the_oldest_event_ids_beyond_max_claims(open_with: Callable[[str], StateStore]) -> None:
    st = open_with("max_claims=3")
    assert st.claim(["a", "b", "c", "d"]) == [True] * 4
    assert st.claim(["d", "c", "b"]) == [False, False, False]
    assert st.claim(["a"]) == [True]  # forgotten: the oldest


def test_released_claims_can_be_claimed_again(state: StateStore) -> None:
    assert state.claim(["r1", "r2"]) == [True, True]
    state.release(["r1"])
    assert state.claim(["r1", "r2"]) == [True, False]
