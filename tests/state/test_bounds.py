"""The state stays bounded and forgets on request, on both backends: options from the URL, idle expiry
(an injected clock, no sleeps), caps, the popularity window, and ``forget`` leaving nothing behind."""

from __future__ import annotations

import math
import tracemalloc
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

from shopsage.errors import StoreURLError
from shopsage.state import StateStore, Touch, open_state

from .conftest import REDIS_URL, Clock

OpenWith = Callable[[str], StateStore]


def view(item: str, typ: str = "view") -> list[Touch]:
    return [Touch(item, typ, 1.0)]


def is_redis(st: StateStore) -> bool:
    return st.url.startswith("redis")


def redis_client() -> Any:
    import redis

    return redis.Redis.from_url(REDIS_URL, decode_responses=True)


def redis_keys(st: StateStore) -> list[str]:
    r = redis_client()
    return sorted(r.scan_iter(f"{st.prefix}:*", count=500))  # type: ignore[attr-defined]


def redis_dump(r: Any, key: str) -> list[str]:
    """Every string a key holds, whatever its type."""
    kind = r.type(key)
    if kind == "list":
        return list(r.lrange(key, 0, -1))
    if kind == "set":
        return list(r.smembers(key))
    if kind == "zset":
        return [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
    if kind == "string":
        return [r.get(key)]
    raise AssertionError(f"unexpected Redis type {kind} of {key}")


def holds(obj: object, needle: str) -> bool:
    """Whether anything reachable from ``obj`` (containers, attributes, slots) is a string containing ``needle``."""
    seen: set[int] = set()
    stack: list[object] = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen or callable(o) and not hasattr(o, "__dict__"):
            continue
        seen.add(id(o))
        if isinstance(o, str):
            if needle in o:
                return True
        elif isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset | deque):
            stack.extend(o)
        elif hasattr(o, "__dict__") or hasattr(o, "__slots__"):
            stack.extend(getattr(o, "__dict__", {}).values())
            stack.extend(getattr(o, s) for s in getattr(o, "__slots__", ()) if hasattr(o, s))
    return False


def assert_expires_at(st: StateStore, clock: Clock, key: str, alive: Callable[[], bool], at: float) -> None:
    """The entry ``key`` (``s:ID``, ``u:ID``) is alive until Unix time ``at`` and gone after. Memory: move
    the clock. Redis (which expires keys by its own clock): the key's absolute expiry is ``at``."""
    if is_redis(st):
        assert alive()
        assert abs(redis_client().execute_command("PEXPIRETIME", f"{st.prefix}:{key}") - at * 1000) <= 1  # type: ignore[attr-defined]
        return
    before = clock.t
    clock.t = at - 0.5
    assert alive()
    clock.t = at + 0.5
    assert not alive()
    clock.t = before


# ------------------------------------------------------------------ options


def test_options_come_from_the_url() -> None:
    st = open_state("memory://?session_ttl=60&max_sessions=5&user_ttl=7&pop_window=240&max_items=9&claim_ttl=3")
    o = st.options  # type: ignore[attr-defined]
    assert (o.session_ttl, o.max_sessions, o.user_ttl, o.pop_window, o.max_items, o.claim_ttl) == (60, 5, 7, 240, 9, 3)
    assert open_state("memory://").options.session_ttl == 1800  # type: ignore[attr-defined]


@pytest.mark.parametrize(("url", "says"), [
    ("memory://?session_ttl=abc", r"session_ttl: .*integer"),
    ("memory://?session_ttl=0", r"session_ttl: .*greater than 0"),
    ("memory://?max_sessions=-5", r"max_sessions: .*greater than 0"),
    ("memory://?user_ttl=1.5", r"user_ttl: .*integer"),
    ("memory://?session_tll=60", r"session_tll: .*not permitted.*options are session_ttl"),
    ("memory://?session_ttl=60&session_ttl=70", r"session_ttl is given twice"),
    ("memory://?prefix=shop", r"prefix applies to redis:// only"),
    ("redis://127.0.0.1:6379/0?max_sessions=5", r"max_sessions applies to memory:// only"),
    ("redis://127.0.0.1:6379/0?prefix=a:b", r"prefix must be letters"),
    ("redis://127.0.0.1:6379/0?prefix=a*", r"prefix must be letters"),
])
def test_bad_options_are_refused_by_name(url: str, says: str) -> None:
    with pytest.raises(StoreURLError, match=says):
        open_state(url)


def test_redis_options_reach_the_backend(open_with: OpenWith) -> None:
    st = open_with("session_ttl=61&max_items=7")
    assert (st.options.session_ttl, st.options.max_items) == (61, 7)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ expiry


def test_idle_sessions_expire_and_each_event_renews_them(open_with: OpenWith, clock: Clock) -> None:
    st = open_with("session_ttl=600")
    r = clock.start
    clock.t = r - 700
    st.record(None, "old", view("i0"))  # idle since r - 700: gone at r - 100
    clock.t = r - 500
    st.record(None, "renewed", view("i1"))  # would expire at r + 100 ...
    clock.t = r - 100
    st.record(None, "renewed", view("i2"))  # ... but this event moves it to r + 500
    clock.t = r
    assert st.session_touches("old") == []
    assert [t.item for t in st.session_touches("renewed")] == ["i2", "i1"]
    assert_expires_at(st, clock, "s:renewed", lambda: bool(st.session_touches("renewed")), r + 500)


def test_idle_users_expire_with_their_bought_set(open_with: OpenWith, clock: Clock) -> None:
    st = open_with("user_ttl=600&session_ttl=60")
    r = clock.start
    clock.t = r - 700
    st.record("gone", None, view("i1", "purchase"))
    clock.t = r - 30
    st.record("kept", "s1", view("i2", "purchase"))
    clock.t = r
    assert st.user_touches("gone") == [] and st.purchased("gone") == set()
    assert st.purchased("kept") == {"i2"}
    assert_expires_at(st, clock, "u:kept", lambda: st.purchased("kept") == {"i2"}, r + 570)
    if is_redis(st):
        assert_expires_at(st, clock, "b:kept", lambda: True, r + 570)
    assert_expires_at(st, clock, "s:s1", lambda: bool(st.session_touches("s1")), r + 30)  # the session's own TTL


def test_claims_expire_after_claim_ttl_and_a_repeat_does_not_renew(open_with: OpenWith, clock: Clock) -> None:
    st = open_with("claim_ttl=600")
    r = clock.start
    assert st.claim(["e1"]) == [True]
    clock.t = r + 599
    assert st.claim(["e1", "e2"]) == [False, True]
    clock.t = r + 601
    assert st.claim(["e1", "e2"]) == [True, False]


# ------------------------------------------------------------------ popularity


def test_popularity_counts_a_sliding_window(open_with: OpenWith, clock: Clock) -> None:
    st = open_with("pop_window=2400")  # 24 buckets of 100 s
    r = clock.start
    st.bump_popularity({"a": 1.0})
    clock.t = r + 1200
    st.bump_popularity({"b": 3.0, "a": 1.0})
    assert st.popularity(5) == [("b", 3.0), ("a", 2.0)]
    clock.t = r + 2500  # the first bucket left the window
    assert st.popularity(5) == [("b", 3.0), ("a", 1.0)]
    assert st.popularity_since() == math.floor((r + 1200) / 100) * 100
    if is_redis(st):  # the running total was rebuilt without its bucket: it must still expire
        r_ = redis_client()
        assert all(r_.pttl(k) > 0 for k in redis_keys(st)), {k: r_.pttl(k) for k in redis_keys(st)}
    clock.t = r + 1200 + 2500
    assert st.popularity(5) == []
    assert st.popularity_since() is None


def test_each_popularity_bucket_keeps_its_heaviest_items(open_with: OpenWith) -> None:
    st = open_with("max_items=3")
    st.bump_popularity({"a": 5.0, "b": 4.0, "c": 3.0, "d": 1.0})
    assert st.popularity(10) == [("a", 5.0), ("b", 4.0), ("c", 3.0)]
    st.bump_popularity({"d": 10.0})
    assert st.popularity(10) == [("d", 10.0), ("a", 5.0), ("b", 4.0)]


def test_made_up_item_ids_do_not_grow_popularity(open_with: OpenWith) -> None:
    st = open_with("max_items=100")
    st.bump_popularity({"real": 50.0})
    for k in range(300):
        st.bump_popularity({f"fake-{k}-{j}": 1.0 for j in range(10)})
    top = st.popularity(10**6)
    assert top[0] == ("real", 50.0)
    assert len(top) <= 100 + 100 // 8  # memory trims in steps of an eighth, Redis exactly
    if is_redis(st):
        r = redis_client()
        assert len(top) == 100
        assert all(r.zcard(k) <= 100 for k in redis_keys(st) if k.startswith(f"{st.prefix}:pop"))  # type: ignore[attr-defined]


# ------------------------------------------------------------------ caps and steady state


def test_memory_drops_the_least_recently_active_beyond_its_caps(clock: Clock) -> None:
    st = open_state("memory://?max_sessions=3&max_users=2", clock=clock)
    for s in ("s1", "s2", "s3"):
        st.record(None, s, view("i"))
        clock.t += 1
    st.record(None, "s1", view("j"))  # s1 is now the most recent: s2 goes next
    st.record(None, "s4", view("i"))
    assert [bool(st.session_touches(s)) for s in ("s1", "s2", "s3", "s4")] == [True, False, True, True]
    for u in ("u1", "u2", "u3"):
        st.record(u, None, view("i", "purchase"))
    assert st.purchased("u1") == set() and st.purchased("u3") == {"i"}
    assert st.sizes()["sessions"] == 3 and st.sizes()["users"] == 2  # type: ignore[attr-defined]


def test_memory_holds_rate_times_ttl_sessions_and_stays_flat(clock: Clock) -> None:
    """1,000 new sessions a second with session_ttl=5: 5,000 live once the first 5 s are past (rate x TTL),
    and the heap after 25 s within 5% of the heap after 10 s."""
    st = open_state("memory://?session_ttl=5", clock=clock)

    def run(sessions: range) -> None:
        for k in sessions:
            clock.t = clock.start + k / 1000
            st.record(None, f"session-{k}", [Touch("i1", "view", clock.t), Touch("i2", "click", clock.t)])

    tracemalloc.start()  # before the first session: frees of untraced blocks would not count
    try:
        run(range(10_000))
        at_10 = tracemalloc.get_traced_memory()[0]
        run(range(10_000, 25_000))
        at_25 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert abs(st.sizes()["sessions"] - 5_000) <= 1  # type: ignore[attr-defined]
    assert abs(at_25 - at_10) <= 0.05 * at_10, (at_10, at_25)
    assert st.session_touches("session-19000") == [] and st.session_touches("session-24999")


@pytest.mark.parametrize("open_with", ["redis"], indirect=True)
def test_every_redis_key_expires_but_the_catalogue_log(open_with: OpenWith) -> None:
    st = open_with("")
    st.record("u", "s", view("i", "purchase"))
    st.claim(["e"])
    st.bump_popularity({"i": 1.0})
    st.publish_catalog(["i"])
    r = redis_client()
    ttl = {k: r.pttl(k) for k in redis_keys(st)}
    assert ttl.pop(f"{st.prefix}:cat") == -1  # type: ignore[attr-defined]  # bounded by max_changes instead
    assert ttl.pop(f"{st.prefix}:catv") == -1  # type: ignore[attr-defined]  # its version: one number
    assert r.llen(f"{st.prefix}:cat") == 1  # type: ignore[attr-defined]
    assert len(ttl) == 7 and all(v > 0 for v in ttl.values()), ttl  # s, u, b, claims, pop, popb, one bucket


# ------------------------------------------------------------------ forget


def test_forget_leaves_nothing_of_the_user_and_sessions(open_with: OpenWith) -> None:
    st = open_with("")
    st.record("alice-7f3", "sess-a1", view("i1") + view("i2", "purchase"))
    st.record("alice-7f3", "sess-a2", view("i3"))
    st.record(None, "sess-a3", view("i4"))  # an anonymous session the caller knows was hers
    st.record("bob-9c1", "sess-b1", view("i1", "purchase"))
    st.claim(["ev-1"])
    st.bump_popularity({"i1": 2.0})
    st.forget("alice-7f3", ["sess-a1", "sess-a2", "sess-a3"])
    st.forget(None, [])
    st.forget("nobody", ["no-session"])
    assert st.user_touches("alice-7f3") == [] and st.purchased("alice-7f3") == set()
    assert all(st.session_touches(s) == [] for s in ("sess-a1", "sess-a2", "sess-a3"))
    assert st.purchased("bob-9c1") == {"i1"} and st.session_touches("sess-b1")  # others untouched
    gone = ("alice-7f3", "sess-a1", "sess-a2", "sess-a3")
    if is_redis(st):
        r = redis_client()
        keys = redis_keys(st)
        text = " ".join(keys + [v for k in keys for v in redis_dump(r, k)])
    else:
        text = ""
        assert holds(st, "bob-9c1") and holds(st, "sess-b1")  # the search does find what is there
        assert not any(holds(st, g) for g in gone)
    assert not any(g in text for g in gone)
    if is_redis(st):
        assert "bob-9c1" in text and "sess-b1" in text
