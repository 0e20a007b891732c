"""Imports through the privacy edge: pseudonymous ids (the API's), scrubbed and encrypted queries."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from shopsage.data.importers import get_importer, run_import
from shopsage.data.importers.base import Importer
from shopsage.data.rows import EventBlock, EventRow, RowKey
from shopsage.data.stores import open_store
from shopsage.errors import FieldKeyError
from shopsage.privacy.cipher import FieldCipher, reveal_query_events
from shopsage.privacy.ids import Pseudonymizer
from shopsage.privacy.imports import PrivateImporter, private_importer

KEY = secrets.token_bytes(32)


def _shop(tmp_path: Path) -> Path:
    """amazon-seq: a user id, then the items they bought (the importer yields one EventBlock per line)."""
    folder = tmp_path / "shop"
    folder.mkdir(exist_ok=True)
    (folder / "item_titles.txt").write_text("A red shoe\nB blue hat\nC green scarf\n", encoding="utf-8")
    (folder / "user_sequence.txt").write_text("user-alice A B C\nuser-bob B C\nuser-carol A B C C\n",
                                               encoding="utf-8")
    return folder


def test_imported_ids_are_the_apis_pseudonyms_and_the_block_stays_columnar(tmp_path: Path) -> None:
    ids = Pseudonymizer(KEY)
    inner = get_importer("amazon-seq", str(_shop(tmp_path)))
    blocks = [r for r in PrivateImporter(inner, ids).records() if type(r) is EventBlock]
    assert len(blocks) == 3, "the importer yields event blocks; the wrapper must keep them blocks"
    assert blocks[0].user == [ids.pseudonymize("user-alice")] * 3
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    summary = run_import(store, PrivateImporter(get_importer("amazon-seq", str(_shop(tmp_path))), ids))
    assert summary.by_kind["events"] == 9 and summary.balanced
    assert set(store.user_ids()) == {ids.pseudonymize(u) for u in ("user-alice", "user-bob", "user-carol")}
    store.close()
    raw = (tmp_path / "s.db").read_bytes()
    for name in (b"user-alice", b"user-bob", b"user-carol"):
        assert name not in raw
    # re-importing the same file finds every row already present (pseudonyms are stable)
    store = open_store(url)
    again = run_import(store, PrivateImporter(get_importer("amazon-seq", str(_shop(tmp_path))), ids))
    assert again.accepted == 0 and again.already_present == summary.accepted
    store.close()


class _Rows(Importer):
    """Event rows one at a time, with users, queries and contexts (as the table importer yields them)."""

    format = "rows"

    def __init__(self, rows: list[EventRow]) -> None:
        self.path, self.options, self.rows = Path("rows.jsonl"), {}, rows

    def records(self):  # type: ignore[no-untyped-def]
        yield from self.rows


def _row(i: int, user: str, query: str | None, ctx: dict | None = None) -> EventRow:
    return EventRow(RowKey("shop/events.jsonl", i), "click", "sku1", user, None, query, None, float(i), None, None,
                    ctx, f"e{i}")


def test_queries_are_scrubbed_and_encrypted_at_rest(tmp_path: Path) -> None:
    cipher = FieldCipher(secrets.token_bytes(64))
    rows = [_row(1, "alice@example.com", "red shoes for alice@example.com", {"page": "secret-landing"}),
            _row(2, "bob", "cordless drill 18v"), _row(3, "bob", "cordless drill 18v")]
    db = tmp_path / "enc.db"
    store = open_store(f"sqlite:///{db}")
    ids = Pseudonymizer(KEY)
    assert run_import(store, PrivateImporter(_Rows(rows), ids, cipher)).accepted == 3
    # the same rows again: deterministic encryption finds them already present, not conflicting
    assert run_import(store, PrivateImporter(_Rows(rows), ids, cipher)).already_present == 3
    stored = store.event_rows("shop/events.jsonl", [1, 2, 3])
    queries = reveal_query_events(store.query_events(["click"]), cipher)
    store.close()
    raw = db.read_bytes()
    for secret in (b"alice", b"cordless drill", b"secret-landing", b"bob"):
        assert secret not in raw, secret
    assert queries == [("red shoes for [email]", "sku1"), ("cordless drill 18v", "sku1"), ("cordless drill 18v", "sku1")]
    assert cipher.reveal_event(stored[0]).context == {"page": "secret-landing"}
    assert stored[0].user == ids.pseudonymize("alice@example.com")
    with pytest.raises(FieldKeyError, match="SHOPSAGE_FIELD_KEY"):
        reveal_query_events([(stored[1].query, "sku1")], None)  # type: ignore[list-item]
    with pytest.raises(FieldKeyError, match="neither"):
        FieldCipher(secrets.token_bytes(64)).reveal_query(stored[1].query)


def test_key_rotation_reads_old_values_and_writes_new(tmp_path: Path) -> None:
    old, new = secrets.token_hex(64), secrets.token_hex(64)
    before = FieldCipher.from_env({"SHOPSAGE_FIELD_KEY": old})
    during = FieldCipher.from_env({"SHOPSAGE_FIELD_KEY": new, "SHOPSAGE_FIELD_KEY_PREVIOUS": old})
    assert before is not None and during is not None
    token = before.protect_query("hammer")
    assert during.reveal_query(token) == "hammer" and during.protect_query("hammer") != token
    assert FieldCipher.from_env({}) is None
    assert during.reveal_query("stored before encryption") == "stored before encryption"


def test_raw_ids_switch_keeps_ids_and_still_scrubs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSAGE_ID_KEY", KEY.hex())
    monkeypatch.delenv("SHOPSAGE_FIELD_KEY", raising=False)
    rows = [_row(1, "carol", "call me 555-123-4567")]
    kept = list(private_importer(_Rows(rows), tmp_path, raw_ids=True).records())
    assert kept[0].user == "carol" and kept[0].query == "call me [phone]"  # type: ignore[union-attr]
    monkeypatch.setenv("SHOPSAGE_RAW_IDS", "1")
    assert list(private_importer(_Rows(rows), tmp_path).records())[0].user == "carol"  # type: ignore[union-attr]
    monkeypatch.delenv("SHOPSAGE_RAW_IDS")
    hashed = list(private_importer(_Rows(rows), tmp_path).records())[0]
    assert hashed.user == Pseudonymizer(KEY).pseudonymize("carol")  # type: ignore[union-attr]
