"""The hand-made abuse cases of issue 23, on SQLite and PostgreSQL: lone surrogates, NaN, Infinity,
1e400, NUL and control characters, huge numbers and bodies, SQL metacharacters, path traversal.
Every answer is a 4xx in the documented JSON shape, nothing of a refused request is stored, and no
log line holds a raw id, even when an unexpected error carries one in its message."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopsage.api import Keys, create_app
from shopsage.privacy.ids import Pseudonymizer
from shopsage.serving.service import Service

from .conftest import make_service

RAW = "raw-shopper-4711"  # a shopper id that must never reach a log line

_BODIES: list[tuple[str, str]] = [
    ("lone surrogate in a session", '{"type": "view", "item": "pip1", "session": "\\ud800"}'),
    ("lone surrogate in a user", '{"type": "view", "item": "pip1", "user": "%s\\udfff"}'),
    ("lone surrogate in a query", '{"type": "search", "query": "saw \\ud83d", "user": "%s"}'),
    ("NaN value", '{"type": "rating", "item": "pip1", "user": "%s", "value": NaN}'),
    ("Infinity value", '{"type": "rating", "item": "pip1", "user": "%s", "value": Infinity}'),
    ("-Infinity timestamp", '{"type": "view", "item": "pip1", "user": "%s", "timestamp": -Infinity}'),
    ("1e400 value", '{"type": "rating", "item": "pip1", "user": "%s", "value": 1e400}'),
    ("1e400 timestamp", '{"type": "view", "item": "pip1", "user": "%s", "timestamp": 1e400}'),
    ("NaN propensity", '{"type": "click", "item": "pip1", "user": "%s", "context": {"propensity": NaN}}'),
    ("5,000-digit number", '{"type": "rating", "item": "pip1", "user": "%s", "value": 1' + "0" * 5000 + "}"),
    ("NUL in a session", '{"type": "view", "item": "pip1", "session": "a\\u0000b"}'),
    ("NUL in a user", '{"type": "view", "item": "pip1", "user": "%s\\u0000"}'),
    ("NUL in an item", '{"type": "view", "item": "pip\\u0000", "user": "%s"}'),
    ("NUL in a query", '{"type": "search", "query": "saw\\u0000", "user": "%s"}'),
    ("NUL in an event id", '{"type": "view", "item": "pip1", "user": "%s", "id": "e\\u0000"}'),
    ("NUL in the context", '{"type": "view", "item": "pip1", "user": "%s", "context": {"page": "\\u0000"}}'),
    ("control character in a user", '{"type": "view", "item": "pip1", "user": "%s\\u0007"}'),
    ("DEL in a session", '{"type": "view", "item": "pip1", "session": "s\\u007f"}'),
    ("escape in a query", '{"type": "search", "query": "saw\\u001b[31m", "session": "s"}'),
    ("format character in an id", '{"type": "view", "item": "pip1", "user": "a\\u200eb"}'),
    ("a batch with one bad event", '{"events": [{"type": "view", "item": "pip1", "user": "%s"}, '
                                   '{"type": "view", "item": "pip1", "user": "\\ud800"}]}'),
    ("deeply nested", '{"type": "view", "item": "pip1", "user": "%s", "context": ' + "[" * 100_000 + "1"
     + "]" * 100_000 + "}"),
    ("not JSON", "{'type': 'view'"),
    ("a JSON array", "[1, 2, 3]"),
    ("empty", ""),
]
EVENT_BODIES = [(what, text.replace("%s", RAW)) for what, text in _BODIES]
"""Each case names a shopper by RAW where it can, to check that no answer or log line repeats it."""


@pytest.fixture(params=["sqlite", "postgresql"])
def svc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = make_service(tmp_path, url)
    yield s  # type: ignore[misc]
    s.close()  # type: ignore[attr-defined]


@pytest.fixture()
def client(svc: Service, tmp_path: Path) -> TestClient:
    return TestClient(create_app(svc, Keys(), ids=Pseudonymizer(bytes(range(32)))))


def _server_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every line the server side logged (the test's own HTTP client logs the URLs it calls)."""
    return caplog.text if not caplog.records else "\n".join(
        caplog.handler.format(r) for r in caplog.records if not r.name.startswith("httpx"))


def _stored_events(svc: Service) -> int:
    return svc.store.stats().events  # type: ignore[attr-defined,no-any-return]


def _refused(r: object, what: str) -> dict[str, object]:
    status = r.status_code  # type: ignore[attr-defined]
    assert 400 <= status < 500, (what, status, r.text[:300])  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "message", "detail"}, (what, body)
    assert RAW not in r.text and "\\ud800" not in r.text and "\\u0000" not in r.text, (what, r.text[:300])  # type: ignore[attr-defined]
    return body  # type: ignore[no-any-return]


def test_abusive_event_bodies_are_refused_and_store_nothing(client: TestClient, svc: Service,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    before = _stored_events(svc)
    for what, text in EVENT_BODIES:
        r = client.post("/v1/events", content=text.encode("utf-8", "surrogatepass"),
                        headers={"Content-Type": "application/json"})
        body = _refused(r, what)
        if r.status_code == 422:
            assert "Nothing of this request was applied" in str(body["message"]), (what, body)
    r = client.post("/v1/events", content=b'{"type": "view", "item": "pip1", "user": "\xff\xfe"}',
                    headers={"Content-Type": "application/json"})
    _refused(r, "invalid UTF-8")
    assert _stored_events(svc) == before
    assert RAW not in _server_log(caplog)


def test_abusive_parameters_and_paths(client: TestClient, svc: Service, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bad_params = [("/v1/recommendations/for_you", {"user": RAW + "\x00"}),
                  ("/v1/recommendations/for_you", {"session": "\x01"}),
                  ("/v1/recommendations/similar_items", {"item": "pip\x00"}),
                  ("/v1/recommendations/next_in_session", {"history": "pip1,pip\x00"}),
                  ("/v1/search", {"q": "saw\x00"}), ("/v1/search", {"q": "saw", "user": RAW + "\x1f"}),
                  ("/v1/search", {"q": "saw", "brand": "To\x00olo"}),
                  ("/v1/search", {"q": "saw", "price_min": "nan"}), ("/v1/search", {"q": "saw", "price_max": "inf"}),
                  ("/v1/search", {"q": "saw", "price_min": "1e400"}),
                  ("/v1/recommendations/trending", {"n": "1" + "0" * 5000})]
    for path, params in bad_params:
        assert client.get(path, params=params).status_code == 422, (path, params)
    for path in ("/v1/items/pip%00", "/v1/users/" + RAW + "%00/profile", "/v1/items/..%2F..%2Fetc%2Fpasswd",
                 "/v1/users/..%2F..%2Fetc%2Fpasswd/profile", "/v1/items/%2e%2e", "/../../etc/passwd",
                 "/v1/items/" + "x" * 300):
        r = client.get(path)
        _refused(r, path)
    r = client.put("/v1/items/lamp", json={"title": "a\x00b"})
    assert _refused(r, "NUL title")["error"] == "ValidationError"
    r = client.put("/v1/items/lamp", content=b'{"title": "\\ud800"}', headers={"Content-Type": "application/json"})
    _refused(r, "surrogate title")
    r = client.put("/v1/items/lamp", json={"title": "lamp", "attributes": {"k\x00": "v"}})
    _refused(r, "NUL attribute name")
    r = client.put("/v1/items/lamp", content=b'{"title": "lamp", "price": NaN}', headers={"Content-Type": "application/json"})
    _refused(r, "NaN price")
    r = client.post("/v1/events", json={"type": "view", "item": "pip1", "user": RAW},
                    headers={"Idempotency-Key": "k\x7f"})
    _refused(r, "control character in the Idempotency-Key")
    assert RAW not in _server_log(caplog)


def test_sql_metacharacters_are_data(client: TestClient, svc: Service) -> None:
    nasty = "x'); DROP TABLE events; --\"`\\%_*"
    assert client.post("/v1/events", json={"type": "view", "item": "pip1", "user": nasty, "session": nasty}).status_code == 200
    assert client.post("/v1/events", json={"type": "search", "query": nasty, "user": nasty}).status_code == 200
    assert client.get(f"/v1/users/{nasty.replace('%', '%25')}/profile").json()["recent_items"] == ["pip1"]
    assert client.get("/v1/search", params={"q": nasty, "brand": nasty}).status_code == 200
    assert client.put("/v1/items/" + "o'brien%25", json={"title": nasty, "brand": nasty}).status_code == 200
    assert client.get("/v1/items/o'brien%25").json()["title"] == nasty
    assert _stored_events(svc) > 0  # the table is still there


def test_huge_bodies_get_413_before_they_are_read(client: TestClient) -> None:
    big = json.dumps({"events": [{"type": "view", "item": "pip1", "session": "s" * 200}] * 6000})
    r = client.post("/v1/events", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
    r = client.post("/v1/events", content=b"{}", headers={"Content-Type": "application/json", "Content-Length": str(10**12)})
    assert r.status_code == 413


def test_an_unexpected_error_is_logged_without_the_ids_it_holds(client: TestClient, svc: Service,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError(f"could not encode {RAW}")  # what a driver error may say

    monkeypatch.setattr(svc, "recommend", broken)
    caplog.set_level(logging.DEBUG)
    r = client.get("/v1/recommendations/for_you", params={"user": RAW})
    assert r.status_code == 500 and r.json()["error"] == "InternalError" and RAW not in r.text
    assert "RuntimeError on GET /v1/recommendations/{scenario}" in _server_log(caplog)
    assert "raise RuntimeError" in _server_log(caplog)  # the code line, for whoever debugs it
    assert RAW not in _server_log(caplog)
