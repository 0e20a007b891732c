"""The storefront and dashboard in-process (no browser): pages, events, live rules, keys, Chinese, why.

Over the synthetic shop (known answers: ``drl*`` drills by Toolo, ``pip9`` out of stock, ``bk9``
hidden), through the same app ``shopsage serve`` runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from shopsage.api.app import create_app
from shopsage.api.security import Keys
from shopsage.evaluate.search_analytics import search_report
from shopsage.policy.rule_store import MerchantRule, RuleBook
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop
from shopsage.web.templating import ENV


def _ids(html: str, within: str = "") -> list[str]:
    part = html.split(within, 1)[1] if within else html
    return re.findall(r'<li class="card" data-item-id="([^"]+)"', part)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{tmp / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp / "home", reload_interval_s=0)).start()
    yield svc
    svc.close()


@pytest.fixture()
def client(service: Service) -> TestClient:
    return TestClient(create_app(service, Keys()))


def test_every_page_renders_and_each_interaction_is_a_stored_event(client: TestClient, service: Service) -> None:
    before = service.store.stats().events_by_type
    home = client.get("/")
    assert home.status_code == 200 and 'data-scenario="for_you"' in home.text and 'data-scenario="trending"' in home.text
    assert client.cookies.get("ss_sid")
    page = client.get("/search", params={"q": "drill"})
    found = _ids(page.text)
    assert page.status_code == 200 and found and all(i.startswith("drl") for i in found)
    assert 'input id="q" type="search" name="q"' in page.text and "<mark>" in page.text
    assert '<html lang="en">' in page.text
    facet = client.get("/search", params={"q": "model", "brand": "Acme"})
    assert _ids(facet.text) and all(i.startswith("pip") for i in _ids(facet.text))
    cheap = client.get("/search", params={"q": "drill", "sort": "price_desc"})
    assert _ids(cheap.text)[0] == "drl9"  # drills cost 31..40: the dearest first
    item = client.get("/item/drl3")
    assert 'data-scenario="similar_items"' in item.text and "drl3" not in _ids(item.text, 'data-scenario="similar_items"')[:1]
    assert client.post("/shop/click", json={"item": "drl3", "page": "search", "query": "drill", "position": 0}).status_code == 204
    assert client.post("/cart/add", data={"item": "drl3"}, follow_redirects=False).status_code == 303
    cart = client.get("/cart")
    assert 'tr data-item-id="drl3"' in cart.text
    done = client.post("/cart/checkout")
    assert "data-purchased" in done.text and not client.cookies.get("ss_cart")
    after = service.store.stats().events_by_type
    for kind in ("search", "view", "click", "add_to_cart", "purchase"):
        assert after[kind] > before[kind], kind
    log = service.store.search_log()  # type: ignore[attr-defined]
    assert ("click", "drill", None) in log and ("search", "drill", float(len(found))) in log


def test_a_live_pin_and_hide_change_the_next_request_and_are_audited(client: TestClient, service: Service) -> None:
    first = _ids(client.get("/search", params={"q": "drill"}).text)
    target = first[-1]
    r = client.post("/admin/merchandising", data={"name": "pin-drl", "action": "pin", "items": target,
                                                  "position": "0", "intent": "save"}, follow_redirects=False)
    assert r.status_code == 303
    assert _ids(client.get("/search", params={"q": "drill"}).text)[0] == target
    client.post("/admin/merchandising", data={"name": "hide-first", "action": "hide", "items": first[0], "intent": "save"})
    shown = _ids(client.get("/search", params={"q": "drill"}).text)
    assert first[0] not in shown and shown[0] == target
    assert first[0] not in [it["id"] for it in service.recommend("similar_items", item="drl1", n=20)["items"]]
    audit = service.rulebook.audit()
    assert [a["action"] for a in audit[:2]] == ["create", "create"] and audit[0]["after"]["name"] == "hide-first"
    client.post("/admin/merchandising", data={"name": "hide-glassco", "action": "hide", "brands": "glassco",
                                              "scenarios": "search", "intent": "save"})
    everything = _ids(client.get("/search", params={"q": "model", "brand": "Glassco"}).text)
    assert everything == [] and any(i.startswith("bk") for i in _ids(client.get("/item/bk1").text))  # search only
    for name in ("pin-drl", "hide-first", "hide-glassco"):
        client.post("/admin/merchandising/delete", data={"name": name})
    assert _ids(client.get("/search", params={"q": "model", "brand": "Glassco"}).text)
    assert _ids(client.get("/search", params={"q": "drill"}).text) == first


def test_a_preview_runs_the_draft_without_applying_it(client: TestClient, service: Service) -> None:
    first = _ids(client.get("/search", params={"q": "drill"}).text)
    r = client.post("/admin/merchandising", data={"name": "bury-top", "action": "bury", "items": first[0],
                                                  "preview_query": "drill", "intent": "preview"})
    after = re.findall(r'<li data-item-id="([^"]+)"', r.text.split("With this rule", 1)[1])
    assert after[-1] == first[0] and not service.rulebook.rules()
    assert _ids(client.get("/search", params={"q": "drill"}).text) == first
    bad = client.post("/admin/merchandising", data={"name": "x", "action": "boost", "items": "drl1", "factor": "0.5",
                                                    "intent": "save"})
    assert bad.status_code == 422 and "factor" in bad.text


def test_rule_book_is_shared_through_its_file(tmp_path: Path) -> None:
    a, b = RuleBook(tmp_path), RuleBook(tmp_path)  # two workers of one home
    assert b.current().rules == []
    a.put(MerchantRule(name="boost-acme", action="boost", brands=["Acme"], factor=3), "test")
    assert [r.name for r in b.rules()] == ["boost-acme"] and b.current().rules[0].factor == 3
    with b.drafting([]):
        assert b.current().rules == []
    assert len(b.current().rules) == 1
    a.delete("boost-acme", "test")
    assert b.rules() == [] and [x["action"] for x in b.audit()] == ["delete", "create"]


def test_dashboard_needs_the_admin_key_when_keys_are_set(service: Service) -> None:
    c = TestClient(create_app(service, Keys(write=("w-key",), admin=("admin-key",))))
    r = c.get("/admin/models", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
    assert c.post("/admin/login", data={"key": "w-key", "next": "/admin/models"}).status_code == 401
    assert c.post("/admin/merchandising", data={"name": "x", "action": "bury", "items": "drl1", "intent": "save"},
                  follow_redirects=False).headers["location"].startswith("/admin/login")
    r = c.post("/admin/login", data={"key": "admin-key", "next": "/admin/models"}, follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert r.status_code == 303 and "HttpOnly" in cookie and "Path=/admin" in cookie and "SameSite=strict" in cookie
    assert c.get("/admin/models").status_code == 200
    assert c.get("/").status_code == 200  # the storefront stays public, like search
    closed = TestClient(create_app(service, Keys(write=("w-key",), read=("r-key",))))
    for path in ("/", "/search?q=drill", "/item/drl1", "/cart"):
        r = closed.get(path)
        assert r.status_code == 403 and "SHOPSAGE_READ_KEYS" in r.text and "data-item-id" not in r.text
    assert closed.post("/shop/click", json={"item": "drl1"}).status_code == 403


def test_a_chinese_catalogue_is_served_as_stored_with_its_language(service: Service, client: TestClient) -> None:
    from shopsage.data.rows import ItemRow

    service.upsert_items([ItemRow("zh1", "不锈钢保温杯 500毫升", None, ("厨房", "水杯"), "象印", 99.0, "CNY", None,
                                  True, 3, None, None, "zh")])
    page = client.get("/item/zh1")
    assert '<h1 lang="zh">不锈钢保温杯 500毫升</h1>' in page.text and '<span lang="zh">象印</span>' in page.text


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)


@given(st.lists(st.fixed_dictionaries({"stage": _TEXT, "source": _TEXT, "text": _TEXT,
                                       "evidence": st.dictionaries(_TEXT, _TEXT | st.integers(), max_size=3)}),
                min_size=1, max_size=4))
def test_the_why_panel_shows_every_reason_and_its_evidence_escaped(reasons: list[dict[str, Any]]) -> None:
    from markupsafe import escape

    html = ENV.get_template("_item.html").render(it={"id": "x1", "title": "T", "position": 0, "reasons": reasons},
                                                 src={"page": "search"}, page_lang="en")
    panel = html.split("data-why", 1)[1]
    for r in reasons:
        for text in (r["stage"], r["text"], r["source"]):
            assert str(escape(text)) in panel
        for k, v in r["evidence"].items():
            assert f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" in panel
    assert "<script" not in html.replace("&lt;script", "")


def test_search_report_counts_top_zero_and_unclicked_queries() -> None:
    log = [("search", "Blue Pen", 3.0), ("search", "blue  pen", 3.0), ("click", "blue pen", None),
           ("search", "xyzzy", 0.0), ("search", "xyzzy", 0.0), ("search", "red ink", 5.0), ("view", "red ink", None)]
    rep = search_report(log)
    assert rep.searches == 5 and rep.distinct == 3
    assert [(s.query, s.searches, s.clicks) for s in rep.top] == [("Blue Pen", 2, 1), ("xyzzy", 2, 0), ("red ink", 1, 0)]
    assert [s.query for s in rep.zero_results] == ["xyzzy"]
    assert [s.query for s in rep.no_clicks] == ["red ink"]


def test_synonyms_saved_in_the_dashboard_serve_the_next_search(client: TestClient, service: Service) -> None:
    assert not _ids(client.get("/search", params={"q": "borer"}).text)
    r = client.post("/admin/merchandising/settings", data={"synonyms": "borer: drill", "stop_words": ""},
                    follow_redirects=False)
    assert r.status_code == 303 and "saved" in r.headers["location"]
    assert service.search_settings()["synonyms"] == {"borer": ["drill"]}
    assert all(i.startswith("drl") for i in _ids(client.get("/search", params={"q": "borer"}).text) or ["none"])
    assert _ids(client.get("/search", params={"q": "borer"}).text)
    client.post("/admin/merchandising/settings", data={"synonyms": "", "stop_words": ""})


def test_experiment_results_and_stop_in_the_dashboard(client: TestClient, service: Service) -> None:
    assert "No experiments yet" in client.get("/admin/experiments").text
    exp = {"name": "web-rrf", "scope": "for_you", "baseline": 0.1, "min_lift": 0.2,
           "variants": [{"name": "control"}, {"name": "wide", "pipeline": {"rrf_k": 60}}]}
    assert client.post("/v1/experiments", json=exp).status_code == 201
    for k in range(6):  # shoppers on the storefront: each home page serves for_you inside the experiment
        shopper = TestClient(client.app)
        shopper.get("/")
        shopper.get(f"/item/drl{k}")
    page = client.get("/admin/experiments")
    assert 'data-experiment="web-rrf"' in page.text and "Per variant, with 95% intervals" in page.text
    assert re.search(r"<th scope=\"row\">control</th><td class=\"num\">\d+</td>", page.text)
    r = client.post("/admin/experiments/stop", data={"name": "web-rrf"}, follow_redirects=True)
    assert "web-rrf stopped" in r.text and "(stopped, scope for_you)" in r.text


def test_a_click_from_search_is_attributed_to_its_answer(client: TestClient, service: Service) -> None:
    page = client.get("/search", params={"q": "saw"}).text
    qid = re.search(r'data-query-id="([^"]+)"', page)
    assert qid, "the search answer's query_id is on the page"
    cards = re.findall(r'<li class="card" data-item-id="([^"]+)" data-position="(\d+)"', page)
    item, position = cards[1]
    assert position == "2"  # 1-based, as the answer numbers it
    r = client.post("/shop/click", json={"item": item, "page": "search", "query": "saw", "query_id": qid.group(1),
                                         "position": int(position)})
    assert r.status_code == 204
    service.exposure_log.flush()
    hits = [a for a in service.store.read_attributed() if a.exposure_id == qid.group(1)]  # type: ignore[attr-defined]
    assert [(a.type, a.item, a.position) for a in hits] == [("click", item, 2)]


def test_health_plots_the_live_event_rates_and_models_show_training(client: TestClient, service: Service) -> None:
    import time

    from shopsage.web.charts import line_chart

    client.get("/item/saw1")
    client.get("/item/saw2")
    health = client.get("/admin", params={"window": "6h"}).text
    assert "<svg" in health and "<polyline" in health and re.search(r"<th scope=\"row\">\d\d:\d\d</th>", health)
    assert f'data-count="items">{service.store.stats().items:,}</td>' in health
    now = 3600 * 1000.0
    chart = line_chart([(now - 600, "view", 3), (now - 300, "view", 1), (now - 300, "click", 2)], now - 3600, now, 300)
    assert [line["type"] for line in chart.lines] == ["click", "view"] and [line["total"] for line in chart.lines] == [2, 4]
    assert [counts for _, counts in chart.table] == [{"click": 0, "view": 3}, {"click": 2, "view": 1}]
    started = service.registry.new_version_dir("itemknn")  # claimed, manifest not yet written: training now
    try:
        page = client.get("/admin/models").text
        assert f'data-training="{started.name}"' in page and time.time() - started.stat().st_mtime < 60
    finally:
        started.rmdir()
