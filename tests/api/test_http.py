"""The HTTP contract in-process (the real app, no server): validation, idempotency, keys, limits, items."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopsage.api import Keys, create_app
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop


def _client(tmp_path: Path, keys: Keys | None = None, **kw: object) -> TestClient:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0))
    return TestClient(create_app(svc, keys or Keys(), **kw))  # type: ignore[arg-type]


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path) as c:
        yield c


def test_a_bad_event_rejects_the_whole_batch_with_a_precise_message(client: TestClient) -> None:
    batch = {"events": [{"type": "view", "item": "pip3", "user": "batch-user"},
                        {"type": "view", "user": "batch-user"},
                        {"type": "view", "item": "pip4", "user": "batch-user", "timestamp": -5}]}
    r = client.post("/v1/events", json=batch)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "ValidationError"
    assert "body.events[1]: Value error, a view event needs an item" in body["message"]
    assert "body.events[2].timestamp: Input should be greater than or equal to 0" in body["message"]
    assert "Nothing of this request was applied" in body["message"]
    assert client.get("/v1/users/batch-user/profile").status_code == 404  # nothing applied


def test_one_event_or_a_batch_and_idempotency(client: TestClient) -> None:
    assert client.post("/v1/events", json={"type": "view", "item": "pip3", "user": "x1", "id": "e-1"}).json() == \
        {"accepted": 1, "duplicates": 0, "quarantined": 0, "replayed": False}
    r = client.post("/v1/events", json={"events": [{"type": "view", "item": "pip3", "user": "x1", "id": "e-1"},
                                                   {"type": "view", "item": "pip4", "user": "x1", "id": "e-2"},
                                                   {"type": "view", "item": "pip4", "user": "x1", "id": "e-2"}]})
    assert r.json() == {"accepted": 1, "duplicates": 2, "quarantined": 0, "replayed": False}
    batch = {"events": [{"type": "purchase", "item": "pip5", "user": "x1"}]}
    assert client.post("/v1/events", json=batch, headers={"Idempotency-Key": "k1"}).json()["accepted"] == 1
    assert client.post("/v1/events", json=batch, headers={"Idempotency-Key": "k1"}).json() == \
        {"accepted": 1, "duplicates": 0, "quarantined": 0, "replayed": True}  # the recorded answer, applied once
    assert client.get("/v1/users/x1/profile").json()["recent_items"] == ["pip5", "pip4", "pip3"]


def test_unknown_fields_and_types_are_refused(client: TestClient) -> None:
    r = client.post("/v1/events", json={"type": "view", "item": "a", "user": "u", "email": "x@y.z"})
    assert r.status_code == 422 and "body.email: Extra inputs are not permitted" in r.json()["message"]
    r = client.get("/v1/recommendations/for_me")
    assert r.status_code == 422 and "scenario" in r.json()["message"]
    r = client.get("/v1/search", params={"q": "saw", "price_min": 5, "price_max": 1})
    assert r.status_code == 422 and "swap them" in r.json()["message"]
    assert client.get("/v1/recommendations/similar_items").status_code == 422
    assert client.get("/v1/recommendations/similar_items", params={"item": "zzz"}).status_code == 404


def test_body_and_batch_limits(tmp_path: Path) -> None:
    with _client(tmp_path, max_body_bytes=2000) as c:
        events = [{"type": "view", "item": "pip1", "session": f"s{k}"} for k in range(60)]
        r = c.post("/v1/events", json={"events": events})
        assert r.status_code == 413 and "larger than 2000 bytes" in r.json()["message"]
    with _client(tmp_path / "b") as c:
        events = [{"type": "view", "item": "pip1", "session": "s"}] * 1001
        r = c.post("/v1/events", json={"events": events})
        assert r.status_code == 422 and "at most 1000" in r.json()["message"]


def test_keys_give_401_without_and_403_with_the_wrong_one(tmp_path: Path) -> None:
    with _client(tmp_path, Keys(write=("w-key",), read=("r-key",))) as c:
        assert c.get("/v1/recommendations/trending").status_code == 401
        assert c.get("/v1/recommendations/trending", headers={"X-API-Key": "nope"}).status_code == 403
        assert c.get("/v1/recommendations/trending", headers={"X-API-Key": "r-key"}).status_code == 200
        assert c.get("/v1/search?q=saw", headers={"Authorization": "Bearer w-key"}).status_code == 200
        ev = {"type": "view", "item": "pip1", "session": "s"}
        assert c.post("/v1/events", json=ev).status_code == 401
        r = c.post("/v1/events", json=ev, headers={"X-API-Key": "r-key"})
        assert r.status_code == 403 and "SHOPSAGE_API_KEYS" in r.json()["message"]
        assert c.post("/v1/events", json=ev, headers={"X-API-Key": "w-key"}).status_code == 200
        assert c.get("/health").status_code == 200
    with _client(tmp_path / "w", Keys(write=("w-key",))) as c:  # write keys only: reads stay open
        assert c.get("/v1/recommendations/trending").status_code == 200
        assert c.put("/v1/items/new1", json={"title": "x"}).status_code == 401


def test_item_routes(client: TestClient) -> None:
    r = client.put("/v1/items/lamp1", json={"title": "Acme lab lamp", "brand": "Acme", "category_path": ["Lab", "Lamps"],
                                            "price": 12.5, "stock": 3})
    assert r.json() == {"inserted": 1, "updated": 0, "unchanged": 0}
    assert client.get("/v1/search", params={"q": "lamp"}).json()["items"][0]["id"] == "lamp1"
    assert client.patch("/v1/items/lamp1", json={"price": 9.0}).json()["price"] == 9.0
    assert client.put("/v1/items/lamp1", json={"id": "other"}).status_code == 422
    r = client.post("/v1/items", json=[{"id": "lamp2", "title": "Glassco lamp"}, {"id": "lamp3", "title": "Toolo lamp"}])
    assert r.json()["inserted"] == 2
    assert client.post("/v1/items", json=[{"title": "no id"}]).status_code == 422
    assert client.delete("/v1/items/lamp1").status_code == 204
    assert client.get("/v1/items/lamp1").status_code == 404
    assert [it["id"] for it in client.get("/v1/search", params={"q": "lamp"}).json()["items"]] == ["lamp2", "lamp3"] or \
        sorted(it["id"] for it in client.get("/v1/search", params={"q": "lamp"}).json()["items"]) == ["lamp2", "lamp3"]
    assert client.delete("/v1/items/lamp1").status_code == 404


def test_search_filters_facets_sort_and_pages(client: TestClient) -> None:
    r = client.get("/v1/search", params={"q": "model", "category": "Tools", "in_stock": True, "sort": "price_asc",
                                        "per_page": 5, "page": 2}).json()
    assert r["total"] == 20
    prices = [it["price"] for it in r["items"]]
    assert prices == sorted(prices) and prices[0] == 26.0  # saws 21..30, drills 31..40: page 2 starts at 26
    assert {f["value"]: f["count"] for f in r["facets"]["category"]} == {"Saws": 10, "Drills": 10}
    assert r["facets"]["brand"] == [{"value": "Toolo", "count": 20}]


def test_ready_is_503_until_the_service_started(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0))
    c = TestClient(create_app(svc, Keys()))  # no lifespan yet: not started
    r = c.get("/ready")
    assert r.status_code == 503 and r.json()["ready"] is False
    assert c.get("/v1/recommendations/trending").status_code == 503
    with c:  # the lifespan starts it
        assert c.get("/ready").json()["ready"] is True
        assert c.get("/v1/recommendations/trending").status_code == 200
        assert "shopsage_catalog_items 40.0" in c.get("/metrics").text


def test_search_says_its_mode_and_refuses_an_unknown_one(client: TestClient) -> None:
    body = client.get("/v1/search", params={"q": "drils"}).json()
    assert body["mode"] == "lexical" and body["fallback"] is None  # auto, without encoder or ranker
    assert body["items"][0]["reasons"][0]["evidence"]["corrected"] == {"drils": "drill"}
    r = client.get("/v1/search", params={"q": "saw", "mode": "telepathy"})
    assert r.status_code == 422 and "mode" in r.json()["message"]
    r = client.get("/v1/search", params={"q": "saw", "mode": "hybrid"})  # no text encoder in this service
    assert r.status_code == 422 and "--semantic" in r.json()["message"]


def test_recommendations_and_search_answer_their_documented_schema_exactly(client: TestClient) -> None:
    """The hot routes answer the service's dict serialised once (no response_model validation): the
    body must still be exactly what the schema documents (no key more or less, the documented types)."""
    from shopsage.api.schemas import RecResponse, SearchOut

    svc = client.app.state.service  # type: ignore[attr-defined]
    client.post("/v1/events", json={"type": "view", "item": "pip3", "user": "u1", "session": "s1"})
    asks = [("for_you", {"user": "u1"}), ("for_you", {"user": "u1", "session": "s1"}), ("for_you", {}),
            ("similar_items", {"item": "pip1"}), ("frequently_bought_together", {"item": "pip0"}),
            ("next_in_session", {"session": "s2"}), ("trending", {"n": 7}), ("also_viewed", {"item": "bk2"})]
    for scenario, params in asks:
        r = client.get(f"/v1/recommendations/{scenario}", params=params)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", (scenario, r.text)
        body = r.json()
        assert body["items"], scenario
        assert RecResponse.model_validate(body).model_dump(mode="json") == body, scenario
        edge = client.app.state.ids  # type: ignore[attr-defined]
        again = svc.recommend(scenario, edge.maybe(params.get("user")), edge.maybe(params.get("session")),
                              params.get("item"), params.get("n", 10))
        assert again.pop("recomm_id") != body.pop("recomm_id")  # every answer its own id
        assert body == again
    for params in ({"q": "pipette"}, {"q": "drils", "user": "u1"}, {"q": "model", "category": "Tools", "per_page": 3}):
        r = client.get("/v1/search", params=params)
        body = r.json()
        assert r.status_code == 200 and body["items"], params
        assert SearchOut.model_validate(body).model_dump(mode="json") == body, params


def test_history_ids_in_the_query_are_the_visit_a_storefront_keeps_itself(client: TestClient) -> None:
    svc = client.app.state.service  # type: ignore[attr-defined]
    r = client.get("/v1/recommendations/next_in_session", params={"history": "saw3,drl2"})
    assert r.status_code == 200, r.text
    body = r.json()
    again = svc.recommend("next_in_session", n=10, history=["saw3", "drl2"])
    assert body.pop("recomm_id") != again.pop("recomm_id") and body == again  # the same answer, its own id
    because = {reason["evidence"].get("item") for it in body["items"] for reason in it["reasons"]}
    assert {"saw3", "drl2"} <= because  # neighbours of both sent items, each explained by it
    assert body != client.get("/v1/recommendations/next_in_session", params={"history": "pip3"}).json()
    assert client.get("/v1/recommendations/next_in_session").status_code == 422  # neither session nor history
    for bad, says in ((",".join(["saw1"] * 51), "more than 50"), ("saw1,,saw2", "positions [1]"),
                      ("saw1," + "x" * 257, "positions [1]"), ("", "positions [0]")):
        r = client.get("/v1/recommendations/next_in_session", params={"history": bad})
        assert r.status_code == 422 and says in r.json()["message"], (bad, r.text)
    ok = client.get("/v1/recommendations/next_in_session", params={"history": ",".join(["saw1"] * 50)})
    assert ok.status_code == 200


def test_conflicts_are_409_naming_both_versions(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    first = {"type": "view", "item": "pip1", "user": "conflict-user-77", "id": "c-1", "timestamp": 1000.0}
    assert client.post("/v1/events", json=first).json()["accepted"] == 1
    r = client.post("/v1/events", json={**first, "item": "pip2"})
    assert r.status_code == 409 and r.json()["error"] == "EventConflictError", r.text
    detail = r.json()["detail"]
    assert detail and "pip1" in str(detail) and "pip2" in str(detail)  # both versions named
    assert "conflict-user-77" not in r.text  # the event as stored: its pseudonym
    batch = {"events": [{"type": "view", "item": "pip3", "user": "conflict-user-77", "timestamp": 1001.0}]}
    assert client.post("/v1/events", json=batch, headers={"Idempotency-Key": "ck"}).status_code == 200
    changed = {"events": [{**batch["events"][0], "item": "pip4"}]}
    r = client.post("/v1/events", json=changed, headers={"Idempotency-Key": "ck"})
    assert r.status_code == 409 and r.json()["error"] == "IdempotencyKeyReusedError"
    assert "conflict-user-77" not in "\n".join(rec.getMessage() for rec in caplog.records if not rec.name.startswith("httpx"))
