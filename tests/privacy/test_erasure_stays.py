"""Erasure stays erased: re-importing the same file after ``shopsage users delete`` brings nothing of the
shopper back (SQLite and PostgreSQL), the quarantine keeps no trace of the refused rows, lifting the
tombstone lets the shopper in again; exactly-once records are pruned by the CLI (the service's pruning: tests/serving/test_upkeep.py)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.data.stores import open_store
from shopsage.data.stores.tombstones import ERASED_REASON, REDACTED_RAW
from shopsage.privacy.ids import Pseudonymizer

runner = CliRunner()
ALICE, BOB = "alice-7c1@example.com", "bob-88f"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    return request.getfixturevalue("pg_url")  # type: ignore[no-any-return]


def _dump(url: str) -> str:
    store = open_store(url)
    try:
        tables = ("events", "users", "quarantine", "exposures", "ingest_requests", "tombstones", "audit_log", "sources",
                  "imports")
        return "\n".join(f"{t}: {r!r}" for t in tables for r in store._query(f"SELECT * FROM {t}"))  # type: ignore[attr-defined]
    finally:
        store.close()


def test_a_reimport_after_users_delete_brings_nothing_back(store_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key = secrets.token_bytes(32)
    monkeypatch.setenv("SHOPSAGE_ID_KEY", key.hex())
    for var in ("SHOPSAGE_RAW_IDS", "SHOPSAGE_FIELD_KEY", "SHOPSAGE_STORE", "SHOPSAGE_HOME"):
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "item_titles.txt").write_text("A red shoe\nB blue hat\nC green scarf\n", encoding="utf-8")
    (folder / "user_sequence.txt").write_text(f"{ALICE} A C\n{BOB} B C\n", encoding="utf-8")
    home = tmp_path / "home"
    imp = ["import", "amazon-seq", str(folder), "--store", store_url, "--home", str(home), "--json"]
    first = runner.invoke(app, imp)
    assert first.exit_code == 0, first.output
    pseudonym = Pseudonymizer(key).pseudonymize(ALICE)
    assert pseudonym in _dump(store_url), "control: alice's pseudonym is stored before the erasure"

    res = runner.invoke(app, ["users", "delete", ALICE, "--store", store_url, "--home", str(home), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["counts"]["events"] == 2, res.output
    again = runner.invoke(app, imp)  # the same file, imported again
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output)
    assert (summary["accepted"], summary["quarantined"]) == (0, 2), summary
    store = open_store(store_url)
    try:
        assert pseudonym not in store.user_ids() and store.stats().events == 2  # bob's two, once
        held = store.quarantined()
        assert [(q.reason, q.raw) for q in held] == [(ERASED_REASON, REDACTED_RAW)] * 2
    finally:
        store.close()
    text = _dump(store_url)
    for marker in (ALICE, pseudonym, "alice-7c1"):
        assert marker not in text, f"{marker!r} is back after the re-import"
    assert Pseudonymizer(key).pseudonymize(BOB) in text, "control: bob stays"

    # the shopper came back and consented: lift the tombstone, and the same file brings them back
    res = runner.invoke(app, ["users", "lift-erasure", ALICE, "--store", store_url, "--home", str(home)])
    assert res.exit_code == 0 and "lifted" in res.output, res.output
    res = runner.invoke(app, ["users", "lift-erasure", ALICE, "--store", store_url, "--home", str(home)])
    assert res.exit_code == 2 and "no erasure to lift" in res.output
    back = json.loads(runner.invoke(app, imp).output)
    assert back["accepted"] == 2 and pseudonym in _dump(store_url)


def test_store_prune_forgets_old_request_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = open_store(url)
    from shopsage.data.rows import EventRow, ItemRow, RowKey

    store.write_items([ItemRow("a", "a")])
    for k in range(3):
        store.ingest_events([EventRow(RowKey("api", k, 0), "view", "a", "u1", "s1", ts=1.0)], request_key=f"k{k}")
    with store.transaction():  # k0 and k1 are ten days old
        store._exec("UPDATE ingest_requests SET created_at = created_at - 10 * 86400 WHERE id < 3")  # type: ignore[attr-defined]
    store.close()
    res = runner.invoke(app, ["store", "prune", "--store", url, "--request-retention-days", "30", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["requests"] == 0, res.output
    res = runner.invoke(app, ["store", "prune", "--store", url])
    assert res.exit_code == 0 and "pruned" in res.output and "2 request records older than 7 days" in res.output
    res = runner.invoke(app, ["store", "prune", "--store", url, "--request-retention-days", "0"])
    assert res.exit_code == 2 and "must be a positive number of days" in res.output
