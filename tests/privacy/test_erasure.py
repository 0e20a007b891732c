"""Erasure, grepped everywhere: after ``DELETE /v1/users/{id}`` no store table (SQLite, PostgreSQL), no
Redis key or value, no captured log line and no newly trained model holds the user's raw id, their
pseudonym, their session (raw or pseudonymous) or their search query; and a model trained afterwards
no longer learns from their events (the only cross-category pair in the shop was theirs).

Events of hers sent after the erasure are refused (the store's tombstones) and leave no trace either.

Every grep has a control: the other shoppers' markers are found in the same dumps before and after,
so an empty dump cannot pass for an erasure."""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopsage.api import Keys, create_app
from shopsage.privacy.ids import Pseudonymizer
from shopsage.registry import ModelRegistry
from shopsage.serving.service import Service, ServiceOptions
from shopsage.state import open_state
from shopsage.testing.services import require_service
from shopsage.testing.shop import make_shop
from shopsage.training.recommenders import train_recommender

REDIS_URL = os.environ.get("SHOPSAGE_TEST_REDIS", "redis://127.0.0.1:6379/0")

ALICE, ALICE_SESSION, ALICE_QUERY = "alice-7c1@example.com", "alice-sess-4d2", "zq9 widget for grandma"
BOB, BOB_SESSION = "bob-88f", "bob-sess-1a0"


def _alice_events() -> list[dict[str, Any]]:
    # pip3 (a pipette) with drl7 (a drill): no one else pairs two categories
    return [{"type": "view", "item": "pip3", "user": ALICE, "session": ALICE_SESSION, "id": "a-1"},
            {"type": "click", "item": "drl7", "user": ALICE, "session": ALICE_SESSION, "id": "a-2"},
            {"type": "search", "query": ALICE_QUERY, "user": ALICE, "session": ALICE_SESSION, "id": "a-3"},
            {"type": "purchase", "item": "drl7", "user": ALICE, "session": ALICE_SESSION, "id": "a-4",
             "context": {"page": "alice-landing-page"}},
            {"type": "add_to_cart", "item": "pip3", "session": ALICE_SESSION, "user": ALICE}]


def _bob_events() -> list[dict[str, Any]]:
    return [{"type": "view", "item": "saw1", "user": BOB, "session": BOB_SESSION},
            {"type": "purchase", "item": "saw2", "user": BOB, "session": BOB_SESSION}]


def _store_dump(url: str) -> str:
    """Every row of every table of the store, as text."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [f"{t}: {r!r}" for t in tables for r in con.execute(f'SELECT * FROM "{t}"')]
        con.close()
        return "\n".join(rows)
    import psycopg

    base, schema = url.split("?schema=")
    with psycopg.connect(base) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                            (schema,))]
        assert tables, f"no tables in schema {schema}"
        return "\n".join(f"{t}: {r!r}" for t in tables for r in con.execute(f'SELECT * FROM "{schema}"."{t}"'))


def _redis_dump(prefix: str) -> str:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    out = []
    for key in r.scan_iter(match=f"{prefix}*", count=1000):
        kind = r.type(key).decode()
        value: object = kind
        if kind == "string":
            value = r.get(key)
        elif kind == "hash":
            value = r.hgetall(key)
        elif kind == "list":
            value = r.lrange(key, 0, -1)
        elif kind == "set":
            value = r.smembers(key)
        elif kind == "zset":
            value = r.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = r.xrange(key)
        out.append(f"{key!r} {value!r}")
    r.close()
    return "\n".join(out)


def _model_files(home: Path, url: str, names: tuple[str, ...]) -> str:
    """Train ``names`` on the store into a fresh registry; every byte of their version folders, as text."""
    from shopsage.data.stores import open_store

    registry = ModelRegistry(home / "models")
    store = open_store(url)
    texts = []
    try:
        for name in names:
            v = train_recommender(store, registry, name, holdout=False)
            texts += [p.read_bytes().decode("latin-1") for p in Path(v.path).rglob("*") if p.is_file()]
    finally:
        store.close()
    return "\n".join(texts)


def _pairs_pip3_with_drl7(home: Path, url: str) -> bool:
    """Whether item-kNN trained on the store now learns pip3 and drl7 as neighbours."""
    from shopsage.data.stores import open_store
    from shopsage.recommend import create
    from shopsage.training import prepare

    store = open_store(url)
    try:
        ts = prepare(store, holdout=False)
    finally:
        store.close()
    model = create("itemknn").fit(ts.data)
    ids, scores = model.similar_items([ts.items.index("pip3")], 40).row(0)
    return ts.items.index("drl7") in set(ids[scores > 0].tolist())


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    return request.getfixturevalue("pg_url")  # type: ignore[no-any-return]


@pytest.mark.redis
def test_delete_user_leaves_no_trace_anywhere(store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    prefix = f"ss_erase_{uuid.uuid4().hex[:10]}"
    state_url = f"{REDIS_URL}?prefix={prefix}"
    try:
        open_state(state_url).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "server absent"
        require_service("Redis", str(exc))
    make_shop(store_url).close()
    home = tmp_path / "home"
    ids = Pseudonymizer(secrets.token_bytes(32))
    caplog.set_level(logging.DEBUG)
    svc = Service(ServiceOptions(store_url=store_url, state_url=state_url, home=home, reload_interval_s=0))
    try:
        with TestClient(create_app(svc, Keys(), ids=ids)) as client:
            for body in (_alice_events(), _bob_events()):
                r = client.post("/v1/events", json={"events": body})
                assert r.status_code == 200 and r.json()["accepted"] == len(body), r.text
            assert client.get(f"/v1/users/{ALICE}/profile").status_code == 200
            assert client.get("/v1/recommendations/for_you", params={"user": ALICE, "session": ALICE_SESSION}).status_code == 200
            assert _pairs_pip3_with_drl7(home, store_url), "control: alice's events teach item-kNN the pair"
            alice = [ALICE, ids.pseudonymize(ALICE), ALICE_SESSION, ids.pseudonymize(ALICE_SESSION), ALICE_QUERY,
                     "alice-landing-page"]
            bob = [ids.pseudonymize(BOB), ids.pseudonymize(BOB_SESSION)]
            before = _store_dump(store_url) + _redis_dump(prefix)
            for marker in [alice[1], *alice[3:], *bob]:  # raw ids never reach either (pseudonyms at the edge)
                assert marker in before, f"control: {marker!r} must be stored before the erasure"

            r = client.delete(f"/v1/users/{ALICE}")
            assert r.status_code == 200, r.text
            erased = r.json()["erased"]
            assert erased["events"] == 5 and erased["users"] == 1, erased
            assert client.get(f"/v1/users/{ALICE}/profile").status_code == 404
            # a client still sending her events (a late retry): quarantined redacted, not stored, not applied
            late = client.post("/v1/events", json={"events": _alice_events()})
            assert late.status_code == 200 and (late.json()["accepted"], late.json()["quarantined"]) == (0, 5), late.text
            assert client.get(f"/v1/users/{ALICE}/profile").status_code == 404
    finally:
        svc.close()

    store, live = _store_dump(store_url), _redis_dump(prefix)
    models = _model_files(home, store_url, ("itemknn", "sknn"))
    # every log line of the service's side (the test's own HTTP client logs the URLs it calls)
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records if not r.name.startswith("httpx"))
    assert "shopsage.access" in logs, "control: the service's access log was captured"
    try:
        for where, text in (("store", store), ("redis", live), ("logs", logs), ("models", models)):
            for marker in alice:
                assert marker not in text, f"{marker!r} survives the erasure in the {where}"
        for marker in bob:
            assert marker in store and marker in live, f"control: {marker!r} (another shopper) must stay"
        assert "pip3" in models and "drl7" in models, "control: the models' files (id vocabularies) were read"
        assert "audit_log" in store and "erase_user" in store
        assert not _pairs_pip3_with_drl7(home, store_url), "a model trained after the erasure learns from alice's events"
    finally:
        open_state(state_url).clear()  # type: ignore[attr-defined]
