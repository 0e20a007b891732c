"""The thin edges: ``/v1/experiments`` (keys, create, stop, report) and ``shopsage experiments ...``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shopsage.api import Keys, create_app
from shopsage.cli.main import app as cli
from shopsage.privacy.ids import Pseudonymizer
from shopsage.serving.service import Service, ServiceOptions
from shopsage.settings import Settings
from shopsage.testing.shop import make_shop

EXP = {"name": "rrf", "scope": "for_you", "baseline": 0.1, "min_lift": 0.2,
       "variants": [{"name": "control"}, {"name": "wide", "pipeline": {"rrf_k": 60}}]}


@pytest.fixture()
def svc(tmp_path: Path) -> Iterator[Service]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    s = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0)).start()
    yield s
    s.close()


def test_api_creates_serves_reports_and_stops_behind_the_right_keys(svc: Service) -> None:
    c = TestClient(create_app(svc, Keys(write=("w",), read=("r",), admin=("a",)), settings=Settings(),
                              ids=Pseudonymizer(bytes(range(32)))))
    w, a, r = {"X-API-Key": "w"}, {"X-API-Key": "a"}, {"X-API-Key": "r"}
    assert c.get("/v1/experiments", headers=r).status_code == 403
    assert c.get("/v1/experiments", headers=w).json() == []
    assert c.post("/v1/experiments", json=EXP, headers=w).status_code == 403
    bad = c.post("/v1/experiments", json={**EXP, "colour": "red"}, headers=a)
    assert bad.status_code == 422
    made = c.post("/v1/experiments", json=EXP, headers=a)
    assert made.status_code == 201 and made.json()["planned_units"] > 0
    assert c.post("/v1/experiments", json=EXP, headers=a).status_code == 422  # scope taken, name exists
    seen = set()
    for u in range(12):
        rec = c.get("/v1/recommendations/for_you", params={"user": f"shopper{u}", "n": 3}, headers=w).json()
        assert rec["experiment"] == "rrf"
        seen.add(rec["variant"])
        if rec["items"]:
            item = rec["items"][0]
            ev = {"type": "click", "item": item["id"], "user": f"shopper{u}",
                  "context": {"recomm_id": rec["recomm_id"], "position": item["position"]}}
            assert c.post("/v1/events", json=ev, headers=w).status_code < 300
    assert seen == {"control", "wide"}
    rep = c.get("/v1/experiments/rrf/report", params={"peek_every": 5}, headers=w)
    assert rep.status_code == 200
    body = rep.json()
    assert sum(v["units"] for v in body["variants"].values()) == 12
    assert sum(v["clicks"] for v in body["variants"].values()) >= 1
    assert body["srm"]["mismatch"] is False
    assert "by_segment" in c.get("/v1/experiments/rrf/report", params={"by_segment": "true"}, headers=w).json()
    assert c.get("/v1/experiments/nope/report", headers=w).status_code == 404
    stopped = c.post("/v1/experiments/rrf/stop", headers=a).json()
    assert stopped["status"] == "stopped"
    assert c.get("/v1/recommendations/for_you", params={"user": "shopper1"}, headers=w).json()["experiment"] is None


def test_cli_creates_lists_stops_and_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    spec = tmp_path / "exp.toml"
    spec.write_text('name = "cli"\nscope = "trending"\nmin_lift = 0.1\n\n[[variants]]\nname = "a"\n\n'
                    '[[variants]]\nname = "b"\npipeline = { rrf_k = 20.0 }\n', encoding="utf-8")
    run = CliRunner()
    out = run.invoke(cli, ["experiments", "create", str(spec), "--store", url])
    assert out.exit_code == 0, out.output
    assert "experiment cli running on trending" in out.output
    again = run.invoke(cli, ["experiments", "create", str(spec), "--store", url])
    assert again.exit_code == 2 and "already running" in again.output
    listed = run.invoke(cli, ["experiments", "list", "--store", url, "--json"])
    assert [e["name"] for e in json.loads(listed.output)] == ["cli"]
    rep = run.invoke(cli, ["experiments", "report", "cli", "--store", url, "--out", str(tmp_path / "rep")])
    assert rep.exit_code == 0, rep.output
    assert json.loads((tmp_path / "rep" / "cli.json").read_text())["sessions"] == 0  # nothing served yet
    stop = run.invoke(cli, ["experiments", "stop", "cli", "--store", url])
    assert stop.exit_code == 0 and "stopped" in stop.output
    missing = run.invoke(cli, ["experiments", "stop", "nope", "--store", url])
    assert missing.exit_code == 2 and "no experiment named 'nope'" in missing.output


def test_bench_preset_detects_a_large_lift_on_a_small_simulated_shop(tmp_path: Path) -> None:
    out = tmp_path / "ab.json"
    res = CliRunner().invoke(cli, ["bench", "abtest", "--runs", "4", "--true-lift", "0.3", "--min-lift", "0.3",
                                   "--peek-every", "200", "--json", str(out)])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert r["ab"]["detected"]["hits"] >= 3 and r["aa"]["false_positive"]["hits"] <= 1
    assert r["plan"]["sequential_units"] > r["plan"]["fixed_units"]
    assert out.with_suffix(".md").read_text().count("|") > 10
