"""Pseudonyms and shopper tokens (privacy/ids.py): the keyed hash against hmac computed here, the key
file, rotation, raw-id mode, token expiry and binding."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsage.errors import ConfigError
from shopsage.privacy.ids import KEY_ENV, PREVIOUS_KEY_ENV, RAW_IDS_ENV, Pseudonymizer, key_file

KEY = bytes(range(32))
OLD = bytes(range(100, 132))


def test_a_pseudonym_is_the_truncated_hmac_of_the_raw_id() -> None:
    p = Pseudonymizer(KEY)
    expected = "p_" + hmac.new(KEY, b"alice@example.com", hashlib.sha256).hexdigest()[:32]
    assert p.pseudonymize("alice@example.com") == expected
    assert Pseudonymizer.is_pseudonym(expected) and not Pseudonymizer.is_pseudonym("alice")
    assert p.pseudonymize(expected) != expected  # not idempotent: hashed once, at the edge
    assert Pseudonymizer(OLD).pseudonymize("alice@example.com") != expected
    assert p.maybe(None) is None and p.maybe("x") == p.pseudonymize("x")


@given(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=30, unique=True))
def test_distinct_ids_get_distinct_pseudonyms_that_do_not_contain_them(raw: list[str]) -> None:
    p = Pseudonymizer(KEY)
    out = [p.pseudonymize(r) for r in raw]
    assert len(set(out)) == len(raw)
    for r, o in zip(raw, out, strict=True):
        assert len(o) == 34 and (len(r) < 3 or r not in o[2:])


def test_the_key_file_is_made_once_private_and_shared(tmp_path: Path) -> None:
    found: list[str] = []

    def make() -> None:
        found.append(Pseudonymizer.from_env(tmp_path, {}).pseudonymize("u1"))

    threads = [threading.Thread(target=make) for _ in range(8)]  # workers starting together agree on one key
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 1
    path = key_file(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["id.key"]  # no temporary file left
    assert Pseudonymizer.from_env(tmp_path, {}).pseudonymize("u1") == found[0]  # read again, not replaced
    key = bytes.fromhex(path.read_text().strip())
    assert found[0] == Pseudonymizer(key).pseudonymize("u1")


def test_the_environment_key_wins_in_hex_or_base64(tmp_path: Path) -> None:
    by_hex = Pseudonymizer.from_env(tmp_path, {KEY_ENV: KEY.hex()})
    by_b64 = Pseudonymizer.from_env(tmp_path, {KEY_ENV: base64.b64encode(KEY).decode()})
    by_url = Pseudonymizer.from_env(tmp_path, {KEY_ENV: base64.urlsafe_b64encode(KEY).decode().rstrip("=")})
    assert by_hex.pseudonymize("u") == by_b64.pseudonymize("u") == by_url.pseudonymize("u") == \
        Pseudonymizer(KEY).pseudonymize("u")
    assert not key_file(tmp_path).exists()  # no file made when the environment has the key
    for bad in ("short", "00" * 8, "not base64 !!"):
        with pytest.raises(ConfigError, match="SHOPSAGE_ID_KEY must be a key of at least 16 bytes"):
            Pseudonymizer.from_env(tmp_path, {KEY_ENV: bad})


def test_raw_ids_mode_stores_ids_as_given(tmp_path: Path) -> None:
    p = Pseudonymizer.from_env(tmp_path, {KEY_ENV: KEY.hex(), RAW_IDS_ENV: "1"})
    assert not p.enabled and p.pseudonymize("alice") == "alice" and p.all_pseudonyms("alice") == ("alice",)
    assert Pseudonymizer.from_env(tmp_path, {KEY_ENV: KEY.hex(), RAW_IDS_ENV: "0"}).enabled


def test_rotation_finds_both_pseudonyms_and_keeps_old_tokens_valid(tmp_path: Path) -> None:
    before = Pseudonymizer(OLD)
    token = before.issue_shopper_token("alice", 60, now=1000)
    during = Pseudonymizer.from_env(tmp_path, {KEY_ENV: KEY.hex(), PREVIOUS_KEY_ENV: OLD.hex()})
    assert during.all_pseudonyms("alice") == (Pseudonymizer(KEY).pseudonymize("alice"), before.pseudonymize("alice"))
    assert during.pseudonymize("alice") == Pseudonymizer(KEY).pseudonymize("alice")
    assert during.verify_shopper_token(token, "alice", now=1010)
    assert not Pseudonymizer(KEY).verify_shopper_token(token, "alice", now=1010)  # after the window


def test_shopper_tokens_bind_one_user_until_they_expire() -> None:
    p = Pseudonymizer(KEY)
    token = p.issue_shopper_token("alice", 600, now=1000)
    assert "alice" not in token and token.startswith("st1.1600.")
    assert p.verify_shopper_token(token, "alice", now=1599)
    assert not p.verify_shopper_token(token, "alice", now=1600)  # expired
    assert not p.verify_shopper_token(token, "bob", now=1100)  # another user
    assert not Pseudonymizer(OLD).verify_shopper_token(token, "alice", now=1100)  # another shop's key
    version, expires, sig = token.split(".")
    assert not p.verify_shopper_token(f"{version}.99999999.{sig}", "alice", now=1100)  # a longer life: forged
    for junk in ("", "st1", "st1..", "st2.1600." + sig, "st1.-5." + sig, "st1.1600.\udc80", "a.b.c.d"):
        assert not p.verify_shopper_token(junk, "alice", now=1100)
    with pytest.raises(ConfigError, match="positive lifetime"):
        p.issue_shopper_token("alice", 0)
