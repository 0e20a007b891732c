"""``?variant=NAME``: an admin previews what an experiment's variant serves (recommendations and search); other
keys get 403, an unknown variant or no experiment a 4xx naming what exists, and a preview is no part of the
experiment's sample (its report and its bandit's refit do not count it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopsage.api import Keys, create_app
from shopsage.api.schemas import RecResponse, SearchOut
from shopsage.experiments.allocation import BanditAllocator
from shopsage.privacy.ids import Pseudonymizer
from shopsage.serving.service import Service, ServiceOptions
from shopsage.settings import Settings
from shopsage.testing.shop import make_shop

TRENDING_ONLY = {"candidates": [{"kind": "trending", "n": 50}], "fallbacks": []}
SPLIT = {"name": "fy", "scope": "for_you", "baseline": 0.1, "min_lift": 0.2,
         "variants": [{"name": "control"}, {"name": "trend", "pipeline": TRENDING_ONLY}]}
A, W, R = {"X-API-Key": "a"}, {"X-API-Key": "w"}, {"X-API-Key": "r"}


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[tuple[Service, TestClient]]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0)).start()
    client = TestClient(create_app(svc, Keys(write=("w",), read=("r",), admin=("a",)), settings=Settings(),
                                   ids=Pseudonymizer(bytes(range(32)))))
    yield svc, client
    svc.close()


def _sources(answer: dict[str, Any]) -> set[str]:
    return {r["source"].split(":")[0] for it in answer["items"] for r in it["reasons"]}


def _click(c: TestClient, answer: dict[str, Any], user: str) -> None:
    item = answer["items"][0]
    ev = {"type": "click", "item": item["id"], "user": user,
          "context": {"recomm_id": answer["recomm_id"], "position": item["position"]}}
    assert c.post("/v1/events", json=ev, headers=W).status_code < 300


def test_only_an_admin_previews_a_variant_and_the_report_does_not_count_it(api: tuple[Service, TestClient]) -> None:
    svc, c = api
    path = "/v1/recommendations/for_you"
    none = c.get(path, params={"variant": "trend"}, headers=A)  # nothing runs here yet
    assert none.status_code == 404 and "no running experiment covers 'for_you'" in none.json()["message"]
    assert c.post("/v1/experiments", json=SPLIT, headers=A).status_code == 201
    for key in (R, W):
        refused = c.get(path, params={"user": "p0", "variant": "trend"}, headers=key)
        assert refused.status_code == 403 and "needs an admin key" in refused.json()["message"], refused.text
    assert c.get(path, params={"variant": "trend"}).status_code == 401
    unknown = c.get(path, params={"variant": "nope"}, headers=A)
    assert unknown.status_code == 422 and "control, trend" in unknown.json()["message"]

    regular = []
    for u in range(10):
        rec = c.get(path, params={"user": f"s{u}", "n": 4}, headers=W).json()
        assert rec["experiment"] == "fy" and rec["preview"] is False
        regular.append(rec)
    _click(c, regular[0], "s0")
    seen = [it["id"] for it in regular[0]["items"][:3]]
    for u in range(6):  # the preview shoppers have a history, so the control's models answer
        for item in seen:
            assert c.post("/v1/events", json={"type": "view", "item": item, "user": f"p{u}"}, headers=W).status_code < 300
    previews = []
    for u in range(6):  # other shoppers, both variants; every preview clicked
        rec = c.get(path, params={"user": f"p{u}", "n": 4, "variant": ("trend", "control")[u % 2]}, headers=A)
        assert rec.status_code == 200, rec.text
        body = rec.json()
        assert RecResponse.model_validate(body).model_dump(mode="json") == body
        assert (body["experiment"], body["variant"], body["preview"]) == ("fy", ("trend", "control")[u % 2], True)
        previews.append(body)
        _click(c, body, f"p{u}")
    assert _sources(previews[0]) == {"trending"}  # the variant's pipeline is what the preview serves
    assert _sources(previews[1]) != {"trending"}

    report = c.get("/v1/experiments/fy/report", headers=W).json()
    assert sum(v["units"] for v in report["variants"].values()) == 10  # the six preview shoppers are not units
    assert sum(v["clicks"] for v in report["variants"].values()) == 1  # nor their six clicks
    logged = {r.exposure_id for r in svc.store.read_exposures("fy")}
    assert {a["recomm_id"] for a in regular} <= logged
    assert not logged & {a["recomm_id"] for a in previews}


def test_an_admin_previews_a_search_variant(api: tuple[Service, TestClient]) -> None:
    _, c = api
    exp = {"name": "s", "scope": "search", "baseline": 0.1,
           "variants": [{"name": "auto"}, {"name": "lex", "search_mode": "lexical"}]}
    assert c.post("/v1/experiments", json=exp, headers=A).status_code == 201
    assert c.get("/v1/search", params={"q": "saw", "variant": "lex"}, headers=R).status_code == 403
    got = c.get("/v1/search", params={"q": "saw", "variant": "lex", "session": "qa"}, headers=A)
    assert got.status_code == 200, got.text
    body = got.json()
    assert SearchOut.model_validate(body).model_dump(mode="json") == body
    assert (body["experiment"], body["variant"], body["mode"], body["preview"]) == ("s", "lex", "lexical", True)
    plain = c.get("/v1/search", params={"q": "saw", "session": "qa"}, headers=R).json()
    assert plain["experiment"] == "s" and plain["preview"] is False
    assert c.get("/v1/search", params={"q": "saw", "variant": "hybrid"}, headers=A).status_code == 422


def test_previews_stay_out_of_the_bandit_refit_and_its_report(api: tuple[Service, TestClient]) -> None:
    svc, c = api
    exp = {"name": "bx", "scope": "for_you", "allocation": "bandit",
           "variants": [{"name": "control"}, {"name": "wide", "pipeline": {"rrf_k": 60}}],
           "bandit": {"epsilon": 0.2, "reward": "click", "refit_s": 1, "settle_s": 0}}
    assert c.post("/v1/experiments", json=exp, headers=A).status_code == 201
    for u in range(7):
        assert c.get("/v1/recommendations/for_you", params={"user": f"s{u}"}, headers=W).json()["preview"] is False
    for u in range(5):
        rec = c.get("/v1/recommendations/for_you", params={"user": f"p{u}", "variant": "wide"}, headers=A).json()
        assert rec["preview"] is True and rec["variant"] == "wide"
        _click(c, rec, f"p{u}")
    assert svc.exposure_log.flush()
    fresh = BanditAllocator(svc.experiments.running()[0])
    assert fresh.refit(svc.store, time.time() + 5)  # a cutoff after every answer above
    assert fresh.bandit.bandit.n_updates == 7  # decisions of the seven shoppers, none of the previews
    report = c.get("/v1/experiments/bx/report", headers=W).json()
    assert report["decisions"] == 7 and sum(v["reward"] for v in report["variants"].values()) == 0


def test_the_dashboard_links_a_preview_of_each_running_variant(api: tuple[Service, TestClient]) -> None:
    svc, c = api
    assert c.post("/v1/experiments", json=SPLIT, headers=A).status_code == 201
    page = c.get("/admin/experiments", headers=A)
    assert page.status_code == 200 and 'data-preview="fy"' in page.text
    assert "<option>control</option><option>trend</option>" in page.text
    assert c.get("/admin/experiments/preview", params={"scenario": "for_you", "variant": "trend"},
                 follow_redirects=False).status_code == 303  # no admin cookie or key: to the login form
    got = c.get("/admin/experiments/preview", params={"scenario": "for_you", "variant": "trend"}, headers=A)
    assert got.status_code == 200 and (got.json()["variant"], got.json()["preview"]) == ("trend", True)
    assert c.get("/admin/experiments/preview", params={"scenario": "for_you", "variant": "x"}, headers=A).status_code == 422
    assert svc.exposure_log.flush() and not {r.exposure_id for r in svc.store.read_exposures("fy")}
