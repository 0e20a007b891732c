"""The API's privacy edge: user and session ids pseudonymised before the service sees them (the store
file, the Redis keys and values hold no raw id), queries scrubbed before storage, one key shared with
file imports, and DELETE /v1/users/{id} erasing a user from the store and the state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopsage.api import Keys, create_app
from shopsage.privacy.ids import KEY_ENV, Pseudonymizer
from shopsage.serving.service import Service

from .conftest import REDIS_URL, make_service

KEY = bytes(range(32))
USER = "alice.smith@example.com"  # shops often key shoppers by e-mail: exactly what must not be stored
SESSION = "sess-8d1f-alice"


def _store_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("shop.db*"))


def _events(c: TestClient, headers: dict[str, str] | None = None) -> None:
    batch = {"events": [{"type": "view", "item": "pip1", "user": USER, "session": SESSION,
                         "query": "pipette for carol@example.net"},
                        {"type": "purchase", "item": "pip2", "user": USER, "session": SESSION},
                        {"type": "search", "query": "gift for bob@example.org call +44 20 7946 0958", "user": USER,
                         "session": SESSION}]}
    r = c.post("/v1/events", json=batch, headers=headers or {})
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text


@pytest.fixture()
def svc(tmp_path: Path) -> Iterator[Service]:
    s = make_service(tmp_path)
    yield s  # type: ignore[misc]
    s.close()  # type: ignore[attr-defined]


def test_the_store_holds_pseudonyms_and_scrubbed_queries(svc: Service, tmp_path: Path) -> None:
    ids = Pseudonymizer(KEY)
    c = TestClient(create_app(svc, Keys(), ids=ids))
    _events(c)
    users = svc.store.user_ids()
    assert ids.pseudonymize(USER) in users and USER not in users
    assert svc.store.query_events(("view",)) == [("pipette for [email]", "pip1")]
    raw = _store_bytes(tmp_path)  # the database and its write-ahead log, as they are on disk
    for secret in (USER, SESSION, "bob@example.org", "7946 0958", "carol@example.net"):
        assert secret.encode() not in raw, secret
    assert ids.pseudonymize(SESSION).encode() in raw  # the check can see text in the file
    # the service answers by pseudonym: the route's profile is the service's profile of the pseudonym
    assert c.get(f"/v1/users/{USER}/profile").json()["recent_items"] == ["pip2", "pip1"]
    assert svc.profile(ids.pseudonymize(USER))["recent_items"] == ["pip2", "pip1"]
    got = c.get("/v1/recommendations/for_you", params={"user": USER, "session": SESSION}).json()
    want = svc.recommend("for_you", ids.pseudonymize(USER), ids.pseudonymize(SESSION), None, 10)
    assert got.pop("recomm_id") != want.pop("recomm_id") and got == want  # the same answer, its own id


def test_raw_ids_are_stored_only_when_configured(svc: Service) -> None:
    c = TestClient(create_app(svc, Keys(), ids=Pseudonymizer(KEY, enabled=False)))
    _events(c)
    assert USER in svc.store.user_ids()


def test_the_api_and_file_imports_share_the_homes_key(svc: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    app = create_app(svc, Keys())  # the default: the key of the service's home
    home = Path(svc.options.home)
    assert (home / "secrets" / "id.key").exists()
    assert app.state.ids.pseudonymize(USER) == Pseudonymizer.from_env(home).pseudonymize(USER)


def test_delete_erases_a_user_from_store_and_state(svc: Service, tmp_path: Path) -> None:
    ids = Pseudonymizer(KEY)
    c = TestClient(create_app(svc, Keys(write=("w",), admin=("a",)), ids=ids))
    _events(c, {"X-API-Key": "w"})
    c.post("/v1/events", json={"type": "view", "item": "saw1", "user": "bob"}, headers={"X-API-Key": "w"})
    assert c.get(f"/v1/users/{USER}/profile", headers={"X-API-Key": "w"}).status_code == 200
    assert c.delete(f"/v1/users/{USER}", headers={"X-API-Key": "w"}).status_code == 403  # admin only
    r = c.delete(f"/v1/users/{USER}", headers={"X-API-Key": "a"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == USER and sum(body["erased"].values()) >= 3, body
    r = c.get(f"/v1/users/{USER}/profile", headers={"X-API-Key": "a"})
    assert r.status_code == 404 and USER not in r.text
    pseudonym = ids.pseudonymize(USER)
    assert pseudonym not in svc.store.user_ids()
    assert svc.shopper(pseudonym, ids.pseudonymize(SESSION)).user_history == []  # the live state forgot them
    assert c.get("/v1/users/bob/profile", headers={"X-API-Key": "a"}).status_code == 200  # others kept
    again = c.delete(f"/v1/users/{USER}", headers={"X-API-Key": "a"}).json()
    assert sum(v for k, v in again["erased"].items() if k != "state") == 0  # idempotent


@pytest.mark.redis
def test_redis_keys_and_values_hold_no_raw_id_and_forget_an_erased_user(tmp_path: Path, redis_prefix: str) -> None:
    import redis

    svc = make_service(tmp_path, state_url=f"{REDIS_URL}?prefix={redis_prefix}")
    try:
        ids = Pseudonymizer(KEY)
        c = TestClient(create_app(svc, Keys(), ids=ids))  # type: ignore[arg-type]
        _events(c)
        r = redis.Redis.from_url(REDIS_URL)

        def dump() -> bytes:
            out = b""
            for k in r.scan_iter(f"{redis_prefix}:*"):
                out += k + b"\n" + repr(r.dump(k)).encode() + b"\n"
            return out

        before = dump()
        assert before and USER.encode() not in before and SESSION.encode() not in before
        assert ids.pseudonymize(USER).encode() in before  # the check can see ids in keys
        assert c.delete(f"/v1/users/{USER}").status_code == 200
        after = dump()
        assert ids.pseudonymize(USER).encode() not in after and ids.pseudonymize(SESSION).encode() not in after
    finally:
        svc.close()  # type: ignore[attr-defined]


def test_during_a_key_rotation_profiles_and_erasure_find_the_old_pseudonym(svc: Service) -> None:
    old, new = bytes(range(100, 132)), KEY
    before = TestClient(create_app(svc, Keys(), ids=Pseudonymizer(old)))
    _events(before)
    during = TestClient(create_app(svc, Keys(), ids=Pseudonymizer(new, previous=old)))
    assert during.get(f"/v1/users/{USER}/profile").json()["recent_items"] == ["pip2", "pip1"]
    after = TestClient(create_app(svc, Keys(), ids=Pseudonymizer(new)))
    assert after.get(f"/v1/users/{USER}/profile").status_code == 404  # the old pseudonym is out of reach
    assert sum(during.delete(f"/v1/users/{USER}").json()["erased"].values()) >= 3
    assert during.get(f"/v1/users/{USER}/profile").status_code == 404
