"""``shopsage models train|list|promote --if-better`` on the synthetic shop, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.registry import ModelRegistry
from shopsage.testing.shop import make_shop

runner = CliRunner()


def test_train_list_and_the_promotion_gate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    home = str(tmp_path / "home")
    res = runner.invoke(app, ["models", "train", "itemknn", "--store", url, "--home", home,
                              "--params", '{"neighbors": 20}', "--promote"])
    assert res.exit_code == 0, res.output
    assert "itemknn v0001 registered" in res.output and "v0001 is live" in res.output
    res = runner.invoke(app, ["models", "train", "itemknn", "--store", url, "--home", home, "--params", '{"neighbors": 1}'])
    assert res.exit_code == 0, res.output
    reg = ModelRegistry(tmp_path / "home" / "models")
    good, bad = (v.manifest["metrics"]["ndcg@10"] for v in reg.versions("itemknn"))
    assert good > bad
    res = runner.invoke(app, ["models", "list", "--home", home, "--json"])
    rows = json.loads(res.output)
    assert [(r["version"], r["live"]) for r in rows] == [("v0001", True), ("v0002", False)]
    assert rows[0]["metrics"]["ndcg@10"] == good and rows[0]["protocol"] == "leave-one-out"
    res = runner.invoke(app, ["models", "promote", "itemknn", "v0002", "--if-better", "ndcg@10", "--home", home])
    assert res.exit_code == 2 and "not better" in res.output
    assert reg.current("itemknn").version == "v0001"  # type: ignore[union-attr]
    res = runner.invoke(app, ["models", "list", "--home", home], env={"COLUMNS": "200"})
    assert "leave-one-out" in res.output and "ndcg@10" in res.output


def test_train_refuses_bad_input(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    res = runner.invoke(app, ["models", "train", "nosuch", "--store", url, "--home", str(tmp_path)])
    assert res.exit_code == 2 and "known models" in res.output
    res = runner.invoke(app, ["models", "train", "ease", "--store", url, "--params", "{nope", "--home", str(tmp_path)])
    assert res.exit_code == 2 and "not JSON" in res.output
    res = runner.invoke(app, ["models", "train", "ease", "--store", f"sqlite:///{tmp_path / 'typo.db'}",
                              "--home", str(tmp_path)])
    assert res.exit_code == 2 and not (tmp_path / "typo.db").exists()
