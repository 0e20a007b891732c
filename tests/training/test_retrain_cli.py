"""``shopsage models retrain`` and the service's schedule that runs it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.data.schema import Event
from shopsage.data.stores import open_store
from shopsage.registry import ModelRegistry
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.drift_shop import drift_items, phase_rows, write_phase
from shopsage.training.retrain import read_decisions


def _shop(tmp_path: Path) -> tuple[str, float]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = open_store(url)
    store.write_items(drift_items())
    t = write_phase(store, "old", range(0, 200), 0.0)
    store.close()
    return url, t


def test_models_retrain_promotes_and_records(tmp_path: Path) -> None:
    url, t = _shop(tmp_path)
    home = tmp_path / "home"
    runner = CliRunner()
    res = runner.invoke(app, ["models", "train", "itemknn", "--store", url, "--home", str(home), "--promote"])
    assert res.exit_code == 0, res.output
    store = open_store(url)
    write_phase(store, "new", range(200, 400), t, seed=1)
    store.close()
    res = runner.invoke(app, ["models", "retrain", "--store", url, "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "itemknn: promoted" in res.output and "challenger" in res.output
    reg = ModelRegistry(home / "models")
    assert reg.current("itemknn").version == "v0002" and reg.previous("itemknn") == "v0001"  # type: ignore[union-attr]
    assert [d["outcome"] for d in read_decisions(reg.root)] == ["promoted"]
    # the promoted version never trained on the tail it was judged on: the next run judges again on it
    res = runner.invoke(app, ["models", "retrain", "itemknn", "--store", url, "--home", str(home)])
    assert res.exit_code == 0 and "itemknn: kept" in res.output
    res = runner.invoke(app, ["models", "retrain", "itemknn", "--store", url, "--home", str(home)])
    assert res.exit_code == 0 and "itemknn: skipped" in res.output  # nothing new since: no work


def test_models_retrain_without_models_says_what_to_do(tmp_path: Path) -> None:
    url, _ = _shop(tmp_path)
    res = CliRunner().invoke(app, ["models", "retrain", "--store", url, "--home", str(tmp_path / "empty")])
    assert res.exit_code != 0 and "train one first" in res.output


@pytest.mark.slow
def test_the_service_retrains_after_a_count_of_events_and_serves_the_winner(tmp_path: Path) -> None:
    url, t = _shop(tmp_path)
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0.2,
                                 retrain_every_events=400)).start()
    try:
        before = svc.models.models["itemknn"].version
        rows, _ = phase_rows("new", range(200, 400), t, seed=1)
        svc.ingest([Event(user=r.user, item=r.item, type="purchase", timestamp=r.ts) for r in rows[:400]])
        svc.ingest([Event(user=r.user, item=r.item, type="purchase", timestamp=r.ts) for r in rows[400:]])
        deadline = time.time() + 120
        while time.time() < deadline and svc.models.models["itemknn"].version == before:
            time.sleep(0.5)
        assert svc.retraining.started >= 1
        assert svc.models.models["itemknn"].version != before, (tmp_path / "home" / "retrain.log").read_text()
    finally:
        svc.close()
