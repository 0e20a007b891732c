"""Exactly-once ingest through the service: the store judges "already seen", across restarts,
workers and threads; the state counts each event once after a restart; unknown items; erasure."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shopsage.data.schema import Event
from shopsage.errors import EventConflictError, IdempotencyKeyReusedError, NotFoundError, UnknownItemsError
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture()
def redis_url() -> Iterator[str]:
    """A Redis state URL under a unique prefix; every key under it is deleted afterwards."""
    from shopsage.errors import StoreError
    from shopsage.state import open_state
    from shopsage.testing.services import require_service

    url = f"{REDIS}?prefix=ss_test_{uuid.uuid4().hex[:12]}"
    try:
        st = open_state(url)
    except StoreError as exc:
        require_service("Redis", str(exc))
    yield url
    st.clear()  # type: ignore[attr-defined]
    st.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    make_shop(url).close()
    return url


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    made: list[Service] = []

    def start(store_url: str, **options: object) -> Service:
        opts = ServiceOptions(store_url=store_url, home=tmp_path / "home", reload_interval_s=0, build_on_start=False,
                              **options)  # type: ignore[arg-type]
        svc = Service(opts).start()
        made.append(svc)
        return svc

    yield start
    for s in made:
        s.close()


def views(user: str, items: list[str], ids: bool = True, t0: float = 1_700_000_000.0) -> list[Event]:
    return [Event(id=f"{user}-{k}" if ids else None, type="view", item=it, user=user, session=f"{user}-s",
                  timestamp=t0 + k) for k, it in enumerate(items)]


def test_a_retried_key_is_answered_from_the_store_after_a_restart(shop: str, services: Callable[..., Service]) -> None:
    batch = views("ann", ["pip2", "bk3", "saw4"], ids=False)
    first = services(shop)
    before = first.store.stats().events
    assert first.ingest(batch, "key-1") == {"accepted": 3, "duplicates": 0, "quarantined": 0, "replayed": False}
    first.close()
    again = services(shop)  # a fresh process: the in-process state knows nothing
    assert again.ingest(batch, "key-1") == {"accepted": 3, "duplicates": 0, "quarantined": 0, "replayed": True}
    assert again.store.stats().events == before + 3
    assert again.profile("ann")["interactions"] == 3
    with pytest.raises(IdempotencyKeyReusedError):
        again.ingest(batch[:2], "key-1")


def test_two_workers_on_one_store_store_a_request_once(pg_url: str, services: Callable[..., Service]) -> None:
    make_shop(pg_url).close()
    a, b = services(pg_url), services(pg_url)
    batch = views("bea", ["drl1", "drl2"], ids=False)
    answers: list[dict] = []
    threads = [threading.Thread(target=lambda s=s: answers.append(s.ingest(batch, "shared-key"))) for s in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(x["replayed"] for x in answers) == [False, True, True, True]
    assert {x["accepted"] for x in answers} == {2}
    assert len(a.store.interactions()) == a.history.events + 2


def test_an_event_id_reused_with_other_content_is_refused_and_nothing_applied(shop: str,
                                                                            services: Callable[..., Service]) -> None:
    svc = services(shop)
    svc.ingest(views("cai", ["pip2"]))
    changed = [Event(id="cai-new", type="view", item="bk2", user="cai", timestamp=5.0),
               Event(id="cai-0", type="purchase", item="pip2", user="cai", timestamp=1_700_000_000.0)]
    with pytest.raises(EventConflictError) as err:
        svc.ingest(changed, "key-c")
    (conflict,) = err.value.detail
    assert conflict["stored"]["type"] == "view" and conflict["sent"]["type"] == "purchase"
    assert svc.profile("cai")["recent_items"] == ["pip2"]  # bk2 was not applied either
    assert svc.store.user_sessions("cai") == ["cai-s"]
    # identical content is a duplicate, counted as such
    assert svc.ingest(views("cai", ["pip2"])) == {"accepted": 0, "duplicates": 1, "quarantined": 0, "replayed": False}


def test_server_stamped_times_are_not_part_of_a_retry(shop: str, services: Callable[..., Service]) -> None:
    svc = services(shop)
    first = [Event(id="dan-0", type="view", item="saw1", user="dan", timestamp=time.time())]
    retry = [Event(id="dan-0", type="view", item="saw1", user="dan", timestamp=time.time() + 3)]
    assert svc.ingest(first, "key-d", stamped=[0])["accepted"] == 1
    assert svc.ingest(retry, "key-d", stamped=[0])["replayed"]  # the same body as the client sent it
    assert svc.ingest(retry, stamped=[0])["duplicates"] == 1  # and without the key, the same event
    with pytest.raises(EventConflictError):  # a client's own time is part of the event
        svc.ingest(retry)


def test_redis_state_after_a_restart_counts_each_event_once(shop: str, redis_url: str,
                                                           services: Callable[..., Service]) -> None:
    first = services(shop, state_url=redis_url)
    first.ingest(views("eve", ["pip2", "bk3", "saw4"]))
    assert first.profile("eve")["interactions"] == 3
    first.close()
    again = services(shop, state_url=redis_url)  # Redis kept the three; the store holds them too
    assert again.profile("eve")["interactions"] == 3
    sh = again.shopper("eve", "eve-s")
    assert len(sh.user_history) == 3 and len(sh.session_history) == 3 and len(sh.combined or []) == 3
    again.ingest([Event(type="view", item="drl5", user="eve", session="eve-s", timestamp=1_700_000_100.0)])
    assert again.profile("eve")["interactions"] == 4
    assert again.profile("eve")["recent_items"][0] == "drl5"


def test_a_state_failure_after_the_commit_loses_nothing(shop: str, redis_url: str,
                                                       services: Callable[..., Service]) -> None:
    import redis

    svc = services(shop, state_url=redis_url)
    live = svc.state._r  # type: ignore[attr-defined]
    svc.state._r = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)  # type: ignore[attr-defined]
    batch = views("fay", ["bk1", "bk2"])
    with pytest.raises(redis.ConnectionError):
        svc.ingest(batch, "key-f")  # stored, then the state was unreachable
    svc.state._r = live  # type: ignore[attr-defined]
    assert svc.ingest(batch, "key-f")["replayed"]  # the retry: answered from the store, not stored again
    restarted = services(shop, state_url=redis_url)
    assert restarted.profile("fay")["interactions"] == 2


def test_concurrent_ingest_from_threads(shop: str, services: Callable[..., Service]) -> None:
    svc = services(shop)
    errors: list[Exception] = []

    def post(k: int) -> None:
        try:
            for j in range(15):
                batch = [Event(id=f"t{k}-{j}", type="view", item=f"drl{j % 9}", user=f"thr{k}", timestamp=float(j)),
                         Event(id=f"t{k}-{j}", type="view", item=f"drl{j % 9}", user=f"thr{k}", timestamp=float(j))]
                out = svc.ingest(batch, f"key-{k}-{j}" if j % 2 else None)
                assert (out["accepted"], out["duplicates"]) == (1, 1)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(svc.store.interactions()) == svc.history.events + 6 * 15
    assert all(svc.profile(f"thr{k}")["interactions"] == 15 for k in range(6))


@pytest.mark.parametrize("policy", ["quarantine", "reject", "accept"])
def test_unknown_items_policy(tmp_path: Path, services: Callable[..., Service], policy: str) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    svc = services(url, unknown_items=policy)
    batch = [Event(type="view", item="pip2", user="gus", timestamp=1.0),
             Event(type="view", item="made-up", user="gus", timestamp=2.0)]
    if policy == "reject":
        with pytest.raises(UnknownItemsError, match="'made-up'"):
            svc.ingest(batch)
        with pytest.raises(NotFoundError):
            svc.profile("gus")
    else:
        out = svc.ingest(batch)
        assert (out["accepted"], out["quarantined"]) == ((1, 1) if policy == "quarantine" else (2, 0))
        assert len(svc.store.interactions()) == svc.history.events + out["accepted"]
        assert svc.profile("gus")["interactions"] == 1  # an item outside the catalogue is never in a profile
    assert ("made-up" in svc.store.item_ids()) == (policy == "accept")
    assert dict(svc.state.popularity(100)).get("made-up") == (1.0 if policy == "accept" else None)


def test_unknown_items_option_is_checked() -> None:
    from shopsage.errors import ConfigError

    with pytest.raises(ConfigError, match="one of reject, quarantine, accept"):
        Service(ServiceOptions(unknown_items="drop"))  # type: ignore[arg-type]


def test_erase_user_from_store_state_and_history(shop: str, redis_url: str, services: Callable[..., Service]) -> None:
    first = services(shop, state_url=redis_url)
    first.ingest(views("hal", ["pip2", "bk3"]), "key-h")
    first.close()
    svc = services(shop, state_url=redis_url)  # hal's history is now stored and live
    svc.ingest([Event(id="hal-later", type="view", item="saw4", user="hal", session="hal-s", timestamp=1.8e9)], "key-h2")
    assert svc.profile("hal")["interactions"] == 3
    counts = svc.erase_user("hal")
    assert counts["events"] == 3 and counts["users"] == 1 and counts["sessions"] == 1 and counts["requests"] == 2
    with pytest.raises(NotFoundError):
        svc.profile("hal")
    assert svc.shopper(None, "hal-s").session_history == []
    assert "hal" not in svc.store.user_ids()
    if counts["state"]:
        assert svc.state.user_touches("hal") == [] and svc.state.session_touches("hal-s") == []
    assert svc.ingest(views("hal", ["pip2", "bk3"]), "key-h")["replayed"]  # a late retry stores nothing again
    assert "hal" not in svc.store.user_ids()


def test_an_erasure_through_another_worker_reaches_this_ones_history(tmp_path: Path,
                                                                    services: Callable[..., Service]) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    a = services(url)
    a.ingest(views("ivy", ["pip2", "bk3"]))
    b, c = services(url), services(url)  # both loaded ivy's stored history
    assert b.profile("ivy")["interactions"] == 2 and b.shopper(None, "ivy-s").session_history
    a.erase_user("ivy")
    assert b.forget_erased() == 2  # her user and her session
    with pytest.raises(NotFoundError):
        b.profile("ivy")
    assert b.shopper(None, "ivy-s").session_history == [] and b.forget_erased() == 0
    assert c.profile("u1")["interactions"] > 0 and c.forget_erased() == 2  # others stay
