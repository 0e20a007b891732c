"""The real server: uvicorn on a free port, started by ``shopsage serve`` (one worker with the
in-process state; two workers sharing the real Redis)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopsage.testing.shop import item_ids

ServerFactory = Callable[..., "object"]


def test_event_is_reflected_by_the_next_request(one_worker: Any) -> None:
    with httpx.Client(base_url=one_worker.base, timeout=10) as c:
        assert c.get("/health").json() == {"status": "ok"}
        t0 = time.perf_counter()
        r = c.post("/v1/events", json={"type": "view", "item": "drl5", "session": "e2e", "user": "shopper-e2e"})
        assert r.status_code == 200 and r.json()["accepted"] == 1
        nxt = c.get("/v1/recommendations/next_in_session", params={"session": "e2e", "n": 5}).json()
        prof = c.get("/v1/users/shopper-e2e/profile").json()
        elapsed_ms = (time.perf_counter() - t0) * 1000
        ids = [it["id"] for it in nxt["items"]]
        assert "drl5" not in ids and ids[0] in item_ids("drl")
        assert nxt["items"][0]["reasons"][0]["evidence"]["item"] == "drl5"
        assert prof["recent_items"] == ["drl5"]
        assert elapsed_ms < 5000
        assert "/v1/recommendations/{scenario}" in c.get("/openapi.json").json()["paths"]
        assert "shopsage_request_seconds_bucket" in c.get("/metrics").text


def test_server_refuses_a_public_address_without_keys(shop_url: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from shopsage.cli.main import app

    monkeypatch.delenv("SHOPSAGE_API_KEYS", raising=False)
    monkeypatch.delenv("SHOPSAGE_READ_KEYS", raising=False)
    out = CliRunner().invoke(app, ["serve", "--store", shop_url, "--home", str(tmp_path), "--host", "0.0.0.0"])
    assert out.exit_code == 2
    assert "may only listen on 127.0.0.1" in out.output


def test_two_workers_share_sessions_and_items_through_redis(server: ServerFactory, redis_prefix: str) -> None:
    srv = server("--workers", "2", "--state", f"redis://127.0.0.1:6379/0?prefix={redis_prefix}")
    pids = set()
    r = httpx.post(f"{srv.base}/v1/events", json={"type": "view", "item": "bk4", "session": "shared"})  # type: ignore[attr-defined]
    assert r.json()["accepted"] == 1
    r = httpx.patch(f"{srv.base}/v1/items/bk5", json={"stock": 0})  # type: ignore[attr-defined]
    assert r.status_code == 200
    deadline, reads = time.monotonic() + 45, 0
    while reads < 6 or (len(pids) < 2 and time.monotonic() < deadline):  # until both workers answered
        reads += 1
        with httpx.Client(base_url=srv.base, timeout=10) as c:  # type: ignore[attr-defined]  # a fresh connection
            res = c.get("/v1/recommendations/next_in_session", params={"session": "shared", "n": 6})
            pids.add(res.headers.get("x-worker"))
            ids = [it["id"] for it in res.json()["items"]]
            assert "bk4" not in ids and "bk5" not in ids
            assert res.json()["items"][0]["reasons"][0]["evidence"]["item"] == "bk4"
            assert c.get("/v1/items/bk5").json()["stock"] == 0
    assert len(pids) == 2, pids


def test_promotion_reloads_without_dropping_requests(one_worker: Any, shop_url: str) -> None:
    import threading

    from shopsage.data.stores import open_store
    from shopsage.registry import ModelRegistry
    from shopsage.serving.build import register_recommender, training_data
    from shopsage.serving.models import recommender_class

    srv = one_worker
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=srv.base, timeout=10) as c:
            while not stop.is_set():
                statuses.append(c.get("/v1/recommendations/for_you", params={"user": "u3-live", "n": 5}).status_code)

    # a shopper with a history through the API (the shop's stored users were written raw, without
    # the pseudonyms the API looks them up by)
    seen = {"events": [{"type": "view", "item": i, "user": "u3-live"} for i in ("pip1", "pip2", "pip3")]}
    assert httpx.post(f"{srv.base}/v1/events", json=seen).status_code == 200
    t = threading.Thread(target=hammer)
    t.start()
    before = httpx.get(f"{srv.base}/ready").json()["models"]["loaded"]["itemknn"]
    store = open_store(shop_url)
    vocab, data = training_data(store)
    store.close()
    cls = recommender_class("itemknn")
    assert cls is not None
    new = register_recommender(ModelRegistry(srv.home / "models"), cls(neighbors=3).fit(data), vocab, promote=True)
    deadline = time.monotonic() + 30
    loaded = before
    while loaded != new.version and time.monotonic() < deadline:
        time.sleep(0.2)
        loaded = httpx.get(f"{srv.base}/ready").json()["models"]["loaded"]["itemknn"]
    time.sleep(0.3)
    stop.set()
    t.join()
    assert loaded == new.version != before
    assert statuses and set(statuses) == {200}
    reasons = httpx.get(f"{srv.base}/v1/recommendations/for_you", params={"user": "u3-live"}).json()["items"]
    assert any(r["source"] == f"itemknn:{new.version}" for it in reasons for r in it["reasons"])


def test_access_log_names_routes_not_shoppers(one_worker: Any) -> None:  # last: it stops the server
    with httpx.Client(base_url=one_worker.base, timeout=10) as c:
        c.get("/v1/recommendations/for_you", params={"user": "secret-user-42", "session": "secret-session-7"})
        c.get("/v1/search", params={"q": "acme", "user": "secret-user-42"})
        c.post("/v1/events", json={"type": "view", "item": "pip1", "user": "secret-user-42"})
        c.get("/v1/users/secret-user-42/profile")
    log = one_worker.stop()
    assert "open: no API keys configured" in log
    assert "GET /v1/users/{user_id}/profile 200" in log and "GET /v1/search 200" in log
    assert "secret-user-42" not in log and "secret-session-7" not in log and "shopper-e2e" not in log
