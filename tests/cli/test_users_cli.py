"""``shopsage import`` pseudonymises; ``shopsage users delete`` erases a shopper by the id the shop knows;
``shopsage users token``; ``shopsage privacy report|ledger``."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.data.stores import open_store
from shopsage.privacy.ids import Pseudonymizer

runner = CliRunner()


@pytest.fixture()
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, bytes]:
    """A home whose store holds amazon-seq users u1..u3 imported through the CLI, and its id key."""
    key = secrets.token_bytes(32)
    monkeypatch.setenv("SHOPSAGE_ID_KEY", key.hex())
    for var in ("SHOPSAGE_RAW_IDS", "SHOPSAGE_FIELD_KEY", "SHOPSAGE_STORE", "SHOPSAGE_HOME"):
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "item_titles.txt").write_text("A red shoe\nB blue hat\nC green scarf\n", encoding="utf-8")
    (folder / "user_sequence.txt").write_text("u1 A B\nu2 B C\nu3 B A B\n", encoding="utf-8")
    home = tmp_path / "home"
    res = runner.invoke(app, ["import", "amazon-seq", str(folder), "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    return home, f"sqlite:///{home / 'shop.db'}", key


def test_import_stores_pseudonyms_only(shop: tuple[Path, str, bytes]) -> None:
    home, url, key = shop
    store = open_store(url)
    users = set(store.user_ids())
    store.close()
    ids = Pseudonymizer(key)
    assert users == {ids.pseudonymize(u) for u in ("u1", "u2", "u3")}
    assert b"u1" not in (home / "shop.db").read_bytes().replace(b"user_sequence", b"")


def test_users_delete_erases_by_raw_id_and_audits(shop: tuple[Path, str, bytes]) -> None:
    home, url, key = shop
    res = runner.invoke(app, ["users", "delete", "u2", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    done = json.loads(res.output)
    assert done["counts"]["events"] == 2 and done["counts"]["users"] == 1
    assert done["audit"][0]["action"] == "erase_user" and "u2" not in json.dumps(done["audit"])
    store = open_store(url)
    left = set(store.user_ids())
    store.close()
    ids = Pseudonymizer(key)
    assert left == {ids.pseudonymize("u1"), ids.pseudonymize("u3")}
    # the table output names the counts and the audit record; a second delete finds nothing
    res = runner.invoke(app, ["users", "delete", "u2", "--home", str(home)])
    assert res.exit_code == 0 and "events 0" in res.output and "audit record: erase_user" in res.output
    # --pseudonym: the stored form itself
    res = runner.invoke(app, ["users", "delete", ids.pseudonymize("u1"), "--pseudonym", "--home", str(home), "--json"])
    assert json.loads(res.output)["counts"]["events"] == 2


def test_users_delete_refuses_a_missing_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSAGE_ID_KEY", secrets.token_hex(32))
    res = runner.invoke(app, ["users", "delete", "u1", "--store", f"sqlite:///{tmp_path / 'none.db'}"])
    assert res.exit_code == 2 and "import" in res.output


def test_users_token_verifies_for_that_user_only(shop: tuple[Path, str, bytes]) -> None:
    home, _, key = shop
    res = runner.invoke(app, ["users", "token", "u1", "--ttl", "60", "--home", str(home)])
    assert res.exit_code == 0, res.output
    token = res.output.strip()
    ids = Pseudonymizer(key)
    assert ids.verify_shopper_token(token, "u1") and not ids.verify_shopper_token(token, "u2")


def test_privacy_report_spends_the_budget_then_refuses(shop: tuple[Path, str, bytes], tmp_path: Path) -> None:
    home, _, _ = shop
    cfg = tmp_path / "c.toml"
    cfg.write_text("[privacy.budget]\nepsilon_per_release = 1.0\nepsilon_per_period = 2.0\nmax_contributions = 2\n")
    for _ in range(2):
        res = runner.invoke(app, ["--config", str(cfg), "privacy", "report", "--home", str(home), "--json"])
        assert res.exit_code == 0, res.output
        rep = json.loads(res.output)
        assert set(rep["by_type"]) >= {"purchase", "view"} and rep["noise_scale"] == 4.0
    res = runner.invoke(app, ["--config", str(cfg), "privacy", "report", "--home", str(home)])
    assert res.exit_code == 2 and "budget is exhausted" in res.output
    res = runner.invoke(app, ["--config", str(cfg), "privacy", "ledger", "--home", str(home), "--json"])
    assert [r["what"] for r in json.loads(res.output)] == ["activity report"] * 2
