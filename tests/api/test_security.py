"""Who may call what (scoped keys, shopper tokens), CORS, rate limits (in-process and through Redis),
request read timeouts over a raw socket, and blocking work kept off the event loop."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from shopsage.api import Keys, create_app
from shopsage.api.ratelimit import MemoryBuckets, RedisBuckets
from shopsage.privacy.ids import Pseudonymizer
from shopsage.serving.service import Service
from shopsage.settings import Settings

from .conftest import REDIS_URL, Live, make_service

KEY = bytes(range(32))
EVENT = {"type": "view", "item": "pip1", "user": "alice"}


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    s = make_service(tmp_path_factory.mktemp("security"))
    yield s  # type: ignore[misc]
    s.close()  # type: ignore[attr-defined]


def _client(svc: Service, keys: Keys = Keys(), **settings: Any) -> TestClient:  # noqa: B008
    buckets = settings.pop("_buckets", None)
    return TestClient(create_app(svc, keys, settings=Settings(**settings), ids=Pseudonymizer(KEY), buckets=buckets))


def _h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_scopes_nest_admin_write_read(svc: Service) -> None:
    c = _client(svc, Keys(write=("w",), read=("r",), admin=("a",)))
    assert c.post("/v1/events", json=EVENT).status_code == 401
    assert c.post("/v1/events", json=EVENT, headers=_h("r")).status_code == 403
    for key in ("w", "a"):
        assert c.post("/v1/events", json=EVENT, headers=_h(key)).status_code == 200
    item = {"title": "Scope test lamp"}
    r = c.put("/v1/items/scope1", json=item, headers=_h("w"))
    assert r.status_code == 403 and "SHOPSAGE_ADMIN_KEYS" in r.json()["message"]
    assert c.put("/v1/items/scope1", json=item, headers=_h("a")).status_code == 200
    assert c.post("/v1/admin/reload", headers=_h("w")).status_code == 403
    assert c.post("/v1/admin/reload", headers={"Authorization": "Bearer a"}).status_code == 200
    assert c.delete("/v1/users/nobody", headers=_h("w")).status_code == 403
    assert c.get("/v1/search?q=saw").status_code == 401  # read keys set: every read needs a key
    for key in ("r", "w", "a"):
        assert c.get("/v1/search?q=saw", headers=_h(key)).status_code == 200
    assert c.post("/v1/users/alice/token", headers=_h("r")).status_code == 403
    assert c.get("/health").status_code == 200 and c.get("/metrics").status_code == 200


def test_without_admin_keys_write_keys_are_admin(svc: Service) -> None:
    c = _client(svc, Keys(write=("w",)))
    assert c.put("/v1/items/scope2", json={"title": "x"}, headers=_h("w")).status_code == 200
    assert c.put("/v1/items/scope2", json={"title": "x"}).status_code == 401
    assert c.get("/v1/recommendations/trending").status_code == 200  # shared reads stay open


def test_per_user_reads_need_a_key_or_that_users_token(svc: Service) -> None:
    c = _client(svc, Keys(write=("w",)))  # write keys only: before, anyone could read any profile
    assert c.post("/v1/events", json=EVENT, headers=_h("w")).status_code == 200
    r = c.get("/v1/users/alice/profile")
    assert r.status_code == 401 and "shopper token" in r.json()["message"]
    assert c.get("/v1/users/alice/profile", headers=_h("w")).json()["user"] == "alice"
    issued = c.post("/v1/users/alice/token", params={"ttl_s": 600}, headers=_h("w")).json()
    assert issued["expires_at"] > time.time() + 500
    mine = {"X-Shopper-Token": issued["token"]}
    assert c.get("/v1/users/alice/profile", headers=mine).json()["recent_items"][0] == "pip1"
    assert c.get("/v1/recommendations/for_you", params={"user": "alice"}, headers=mine).status_code == 200
    assert c.get("/v1/search", params={"q": "pipette", "user": "alice"}, headers=mine).status_code == 200
    bob = c.get("/v1/users/bob/profile", headers=mine)  # alice's token does not open bob's profile
    assert bob.status_code == 401 and "another user" in bob.json()["message"]
    for path, params in (("/v1/recommendations/for_you", {"user": "bob"}), ("/v1/search", {"q": "saw", "user": "bob"})):
        assert c.get(path, params=params, headers=mine).status_code == 401
        assert c.get(path, params=params).status_code == 401
    expired = Pseudonymizer(KEY).issue_shopper_token("alice", 60, now=time.time() - 120)
    assert c.get("/v1/users/alice/profile", headers={"X-Shopper-Token": expired}).status_code == 401
    assert c.get("/v1/recommendations/for_you", params={"session": "s9"}).status_code == 200  # sessions: anonymous


def test_cors_is_off_by_default_and_allows_only_configured_origins(svc: Service) -> None:
    pre = {"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
    off = _client(svc)
    assert "access-control-allow-origin" not in off.get("/health", headers={"Origin": "https://shop.example"}).headers
    assert off.options("/v1/search", headers=pre).status_code == 405
    on = _client(svc, cors_origins=("https://shop.example",))
    r = on.options("/v1/search", headers={**pre, "Access-Control-Request-Headers": "X-API-Key"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"
    assert on.get("/health", headers={"Origin": "https://shop.example"}).headers["access-control-allow-origin"] == \
        "https://shop.example"
    other = on.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def _limited(c: TestClient, path: str, n: int, headers: dict[str, str] | None = None) -> list[int]:
    return [c.get(path, headers=headers).status_code for _ in range(n)]


def test_rate_limits_per_key_and_per_address_in_process(svc: Service) -> None:
    c = _client(svc, Keys(write=("w", "w2")), rate_limit_key=0.2, rate_burst=3)
    assert _limited(c, "/v1/recommendations/trending", 4, _h("w")) == [200, 200, 200, 429]
    r = c.get("/v1/recommendations/trending", headers=_h("w"))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["error"] == "RateLimited"
    assert c.get("/v1/recommendations/trending", headers=_h("w2")).status_code == 200  # another key, own bucket
    assert c.get("/v1/recommendations/trending").status_code == 200  # no key: no per-key limit
    assert set(_limited(c, "/health", 20)) == {200} and set(_limited(c, "/metrics", 5)) == {200}  # exempt
    a = _client(svc, rate_limit_address=0.2, rate_burst=2)
    assert _limited(a, "/v1/recommendations/trending", 3) == [200, 200, 429]
    assert _limited(a, "/v1/items/pip1", 1) == [429]  # one bucket per address, every route

    now = [0.0]
    buckets = MemoryBuckets(max_clients=3, clock=lambda: now[0])
    assert [buckets.take([("k", 2.0, 2.0)]) for _ in range(3)] == [0.0, 0.0, 0.5]  # refills at 2 per second
    now[0] = 0.25
    assert buckets.take([("k", 2.0, 2.0)]) == 0.25
    now[0] = 0.5
    assert buckets.take([("k", 2.0, 2.0)]) == 0.0
    assert buckets.take([("k", 2.0, 2.0), ("other", 2.0, 2.0)]) == 0.5  # all or nothing:
    assert buckets.take([("other", 2.0, 2.0)]) == 0.0 and buckets.take([("other", 2.0, 2.0)]) == 0.0  # untouched
    for k in range(10):
        buckets.take([(f"k{k}", 1.0, 1.0)])
    assert len(buckets) == 3  # bounded, whatever clients appear


@pytest.mark.redis
def test_rate_limits_are_shared_by_workers_through_redis(svc: Service, redis_prefix: str) -> None:
    import redis

    url = f"{REDIS_URL}?prefix={redis_prefix}"
    one = _client(svc, Keys(write=("secret-key-1",)), rate_limit_key=1, rate_burst=3, _buckets=RedisBuckets(url))
    two = _client(svc, Keys(write=("secret-key-1",)), rate_limit_key=1, rate_burst=3, _buckets=RedisBuckets(url))
    h = _h("secret-key-1")
    got = [one.get("/v1/recommendations/trending", headers=h).status_code,
           two.get("/v1/recommendations/trending", headers=h).status_code,
           one.get("/v1/recommendations/trending", headers=h).status_code,
           two.get("/v1/recommendations/trending", headers=h).status_code]
    assert got == [200, 200, 200, 429]
    r = one.get("/v1/recommendations/trending", headers=h)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    names = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{redis_prefix}:rl:*"))
    assert names and not any(b"secret-key-1" in n or b"127.0.0.1" in n for n in names)  # hashed names only
    down = _client(svc, Keys(write=("k",)), rate_limit_key=1, rate_burst=1, _buckets=RedisBuckets("redis://127.0.0.1:1/0"))
    assert _limited(down, "/v1/recommendations/trending", 3, _h("k")) == [200, 200, 200]  # fails open


def _raw(port: int, data: bytes, wait_s: float) -> tuple[bytes, float]:
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
    return out, time.monotonic() - t0


def test_a_body_shorter_than_its_content_length_gets_408(svc: Service, live: Callable[[object], Live]) -> None:
    srv = live(create_app(svc, Keys(), settings=Settings(read_timeout=0.5), ids=Pseudonymizer(KEY)))
    head = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"type": "view"')
    out, took = _raw(srv.port, head, wait_s=10)
    assert out.startswith(b"HTTP/1.1 408") and b"RequestTimeout" in out and took < 5, (out[:300], took)
    assert b"connection: close" in out.lower()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:  # a client dripping its body
        s.sendall(head[:head.index(b"\r\n\r\n") + 4])
        s.settimeout(0.01)
        t0, answer = time.monotonic(), b""
        while not answer and time.monotonic() - t0 < 5:
            s.sendall(b" ")
            time.sleep(0.1)
            with contextlib.suppress(TimeoutError):
                answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 2, answer[:200]
    full = b'{"type":"view","item":"pip1","session":"s408"}'
    ok, _ = _raw(srv.port, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: "
                 b"close\r\nContent-Length: " + str(len(full)).encode() + b"\r\n\r\n" + full, wait_s=10)
    assert ok.startswith(b"HTTP/1.1 200"), ok[:300]


def test_a_slow_store_write_does_not_stall_health(svc: Service, live: Callable[[object], Live],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = svc.store.ingest_events

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(2.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(svc.store, "ingest_events", slow)
    srv = live(create_app(svc, Keys(), ids=Pseudonymizer(KEY)))
    answers: list[int] = []
    writer = threading.Thread(target=lambda: answers.append(
        httpx.post(f"{srv.base}/v1/events", json={"type": "view", "item": "pip2", "session": "slow"}, timeout=30).status_code))
    writer.start()
    time.sleep(0.3)  # the write is under way
    worst = 0.0
    with httpx.Client(timeout=10) as h:
        for _ in range(5):
            t0 = time.monotonic()
            assert h.get(f"{srv.base}/health").status_code == 200
            worst = max(worst, time.monotonic() - t0)
    still_writing = writer.is_alive()
    writer.join()
    assert still_writing and answers == [200]
    assert worst < 0.5, f"/health took {worst:.2f} s during a 2 s store write"


def test_keys_are_compared_whole(svc: Service) -> None:
    c = _client(svc, Keys(write=("long-write-key",)))
    for wrong in (b"long-write-ke", b"long-write-key2", b"LONG-WRITE-KEY", b"long-write-kez", b"l\xe9ng-write-key"):
        assert c.post("/v1/events", json=EVENT, headers={"X-API-Key": wrong}).status_code == 403  # type: ignore[dict-item]
    assert c.post("/v1/events", json=EVENT, headers={"X-API-Key": "long-write-key"}).status_code == 200
