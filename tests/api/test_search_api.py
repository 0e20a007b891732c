"""The search API conventions over HTTP: filter, facets, sort, highlights, settings and autocomplete,
with their 400s, keys and k-anonymity (the real app in-process, the synthetic shop)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopsage.api import Keys, create_app
from shopsage.api.schemas import AutocompleteOut, SearchOut
from shopsage.serving.service import Service, ServiceOptions
from shopsage.settings import Settings
from shopsage.testing.shop import make_shop

ADMIN = {"Authorization": "Bearer admin-key"}
WRITE = {"Authorization": "Bearer write-key"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("search-api")
    url = f"sqlite:///{tmp / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp / "home", reload_interval_s=0))
    keys = Keys(write=("write-key",), admin=("admin-key",))
    with TestClient(create_app(svc, keys, settings=Settings())) as c:  # type: ignore[arg-type]
        yield c


def test_filter_facets_sort_and_highlights(client: TestClient) -> None:
    r = client.get("/v1/search", params={"q": "saw drill", "filter": 'brand = "toolo" AND price 21 TO 35',
                                         "facets": "category,price", "sort": "price:desc", "highlight": "title",
                                         "per_page": 100})
    assert r.status_code == 200, r.text
    body = SearchOut.model_validate(r.json())
    prices = [i.price for i in body.items]
    assert prices == sorted(prices, reverse=True) and all(21 <= p <= 35 for p in prices)  # type: ignore[operator]
    assert {f.value: f.count for f in body.facets["category"]} == {"Saws": 10, "Drills": 5}
    assert body.facet_stats["price"] == {"min": min(prices), "max": max(prices)}  # type: ignore[type-var]
    first = body.items[0]
    assert first.formatted["title"].startswith("Toolo <mark>") and set(first.formatted) == {"title"}
    old = client.get("/v1/search", params={"q": "saw", "brand": "Toolo", "price_max": 25, "sort": "price_asc"}).json()
    assert [i["price"] for i in old["items"]] == sorted(i["price"] for i in old["items"]) and old["total"] == 5


@pytest.mark.parametrize(("params", "parameter", "column", "words"), [
    ({"filter": "brand = "}, "filter", 9, "expected a value after '='"),
    ({"filter": "price < 10 AND colour = red"}, "filter", 16, "unknown attribute 'colour'"),
    ({"filter": 'price > "cheap"'}, "filter", 1, "needs a number"),
    ({"facets": "brand,weight"}, "facets", None, "unknown attribute 'weight'"),
    ({"sort": "price:upward"}, "sort", 1, "field:asc or field:desc"),
    ({"sort": "weight:asc"}, "sort", None, "unknown attribute 'weight'"),
    ({"highlight": "sku"}, "highlight", None, "cannot highlight sku"),
])
def test_bad_parameters_are_400s_that_say_what_and_where(client: TestClient, params: dict[str, str], parameter: str,
                                                         column: int | None, words: str) -> None:
    r = client.get("/v1/search", params={"q": "saw", **params})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "SearchParameterError" and words in body["message"]
    assert body["detail"][0]["parameter"] == parameter and body["detail"][0]["column"] == column


def test_settings_need_the_admin_key_and_a_patch_serves_the_next_search(client: TestClient) -> None:
    assert client.get("/v1/settings").status_code == 401
    assert client.patch("/v1/settings", json={"stop_words": ["x"]}, headers=WRITE).status_code == 403
    got = client.get("/v1/settings", headers=ADMIN).json()
    assert got["typo_tolerance"]["min_word_size_for_one_typo"] == 5 and got["facetable_attributes"] == ["*"]
    assert client.get("/v1/search", params={"q": "cutter"}).json()["total"] == 0
    r = client.patch("/v1/settings", json={"synonyms": {"cutter": ["saw"]}}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["synonyms"] == {"cutter": ["saw"]}
    found = client.get("/v1/search", params={"q": "cutter"}).json()
    assert found["total"] == 10 and "<mark>saw</mark>" in found["items"][0]["formatted"]["title"]
    r = client.patch("/v1/settings", json={"searchable_attributes": ["title", "sku"]}, headers=ADMIN)
    assert r.status_code == 422 and "sku" in r.json()["message"]
    assert client.patch("/v1/settings", json={"colour": 1}, headers=ADMIN).status_code == 422
    r = client.patch("/v1/settings", json={"sortable_attributes": ["price"], "synonyms": None}, headers=ADMIN)
    assert r.json()["synonyms"] == {} and client.get("/v1/search", params={"q": "cutter"}).json()["total"] == 0
    r = client.get("/v1/search", params={"q": "saw", "sort": "brand:asc"})
    assert r.status_code == 400 and "not sortable" in r.json()["message"]
    client.patch("/v1/settings", json={"sortable_attributes": None}, headers=ADMIN)


def test_autocomplete_suggests_catalogue_terms_and_only_k_anonymous_queries(client: TestClient) -> None:
    r = client.get("/v1/autocomplete", params={"q": "too", "n": 3})
    body = AutocompleteOut.model_validate(r.json())
    assert body.suggestions[0].text == "toolo" and body.suggestions[0].source == "catalogue"
    assert body.suggestions[0].highlighted == "<mark>too</mark>lo"
    private = {"type": "search", "query": "toolbox for jane doe", "session": "only-me"}
    assert client.post("/v1/events", json={"events": [private] * 3}, headers=WRITE).status_code == 200
    assert "toolbox for jane doe" not in [s["text"] for s in client.get(
        "/v1/autocomplete", params={"q": "toolb"}).json()["suggestions"]]
    client.patch("/v1/settings", json={"autocomplete_min_shoppers": 2}, headers=ADMIN)
    assert client.get("/v1/autocomplete", params={"q": "toolb"}).json()["suggestions"] == []  # still one shopper
    client.post("/v1/events", json={**private, "session": "someone-else"}, headers=WRITE)
    got = client.get("/v1/autocomplete", params={"q": "toolb"}).json()["suggestions"]
    assert got[0] == {"text": "toolbox for jane doe", "highlighted": "<mark>toolb</mark>ox for jane doe",
                      "source": "query"}
    scrubbed = {"type": "search", "query": "toolbox mail me a@b.example"}
    client.post("/v1/events", json={"events": [{**scrubbed, "session": s} for s in "abc"]}, headers=WRITE)
    assert all("[email]" not in s["text"] for s in client.get(
        "/v1/autocomplete", params={"q": "toolbox", "n": 20}).json()["suggestions"])
    assert client.get("/v1/autocomplete", params={"q": "", "n": 3}).status_code == 422
    assert client.get("/v1/autocomplete", params={"q": "x", "n": 500}).status_code == 422
    client.patch("/v1/settings", json={"autocomplete_min_shoppers": None}, headers=ADMIN)


def test_past_searches_in_the_store_feed_autocomplete_at_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    first = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0))
    with TestClient(create_app(first, Keys())) as c:  # type: ignore[arg-type]
        c.post("/v1/events", json={"events": [{"type": "search", "query": "saw horse", "user": f"u{i}"}
                                              for i in range(5)]})
        c.post("/v1/events", json={"type": "search", "query": "saw blade", "user": "u1"})
    again = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0))
    with TestClient(create_app(again, Keys())) as c:  # type: ignore[arg-type]
        texts = [s["text"] for s in c.get("/v1/autocomplete", params={"q": "saw h"}).json()["suggestions"]]
        assert texts == ["saw horse"]
        assert c.get("/v1/autocomplete", params={"q": "saw b"}).json()["suggestions"] == []


def test_a_storefront_on_another_origin_may_call_search_autocomplete_and_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0))
    origin = {"Origin": "https://shop.example"}
    with TestClient(create_app(svc, Keys(), settings=Settings(cors_origins=("https://shop.example",)))) as c:  # type: ignore[arg-type]
        r = c.get("/v1/autocomplete", params={"q": "sa"}, headers=origin)
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
        pre = c.options("/v1/settings", headers={**origin, "Access-Control-Request-Method": "PATCH",
                                                 "Access-Control-Request-Headers": "Authorization, Content-Type"})
        assert pre.status_code == 200 and "PATCH" in pre.headers["access-control-allow-methods"]
        other = c.get("/v1/search", params={"q": "saw"}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
