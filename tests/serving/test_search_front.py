"""The search front door in the running service: the catalogue's language, filters that match nothing
with the encoder, hybrid and learned over HTTP, a promoted ranker going live, rules on fallback results.
The encoder is the packaged all-MiniLM-L6-v2 (offline), as in test_semantic.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopsage.api import Keys, create_app
from shopsage.data.rows import ItemRow, JudgmentRow, RowKey
from shopsage.data.stores import open_store
from shopsage.registry import ModelRegistry
from shopsage.search.training import RANKER, train_ranker_version
from shopsage.serving.search import SearchRequest
from shopsage.serving.service import Service, ServiceOptions

ROOT = Path(__file__).resolve().parents[2]
CHINESE = [ItemRow("mi-pad", "小米 平板电脑", category_path=("数码",), brand="小米", price=1999.0),
           ItemRow("lenovo", "联想笔记本电脑 ThinkPad", category_path=("数码",), brand="联想", price=5999.0),
           ItemRow("phone", "华为手机 Mate", category_path=("手机",), brand="华为", price=3999.0),
           ItemRow("kettle", "美的电水壶", category_path=("家电",), brand="美的", price=99.0)]
LAB = [ItemRow("meter", "Digital multimeter with test probes", category_path=("Instruments",), price=40.0),
       ItemRow("beaker", "Borosilicate glass beaker set 250 ml", category_path=("Labware",), price=20.0),
       ItemRow("latex", "Latex examination gloves, box of 100", category_path=("Safety",), price=9.0),
       ItemRow("filament", "PLA 3D printer filament 1.75 mm", category_path=("Printing",), price=25.0),
       ItemRow("sandpaper", "Sandpaper sheets, assorted grit", category_path=("Abrasives",), price=7.0),
       ItemRow("nitrile", "Nitrile disposable hand protection, blue", category_path=("Safety",), price=11.0)]


def _shop(tmp_path: Path, items: list[ItemRow], judgments: list[tuple[str, str, float]] = ()) -> str:  # type: ignore[assignment]
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = open_store(url)
    store.write_items(items)
    if judgments:
        store.write_judgments([JudgmentRow(RowKey("j", i, 0), q, ext, g) for i, (q, ext, g) in enumerate(judgments)])
    store.close()
    return url


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[list[Service]]:
    made: list[Service] = []
    yield made
    for s in made:
        s.close()


def _service(made: list[Service], url: str, home: Path, **kw: object) -> Service:
    opts = dict(store_url=url, home=home, reload_interval_s=0, build_on_start=False) | kw
    svc = Service(ServiceOptions(**opts)).start()  # type: ignore[arg-type]
    made.append(svc)
    return svc


def test_a_chinese_catalogue_is_searched_with_jieba(tmp_path: Path, services: list[Service]) -> None:
    url = _shop(tmp_path, CHINESE)
    svc = _service(services, url, tmp_path / "home")
    assert svc.search_language == "zh"  # detected from the catalogue's text at start
    out = svc.search(SearchRequest("电脑"))
    assert [it["id"] for it in out["items"]][:2] and {it["id"] for it in out["items"]} == {"mi-pad", "lenovo"}
    words = {it["id"]: it["reasons"][0]["evidence"]["matched_terms"] for it in out["items"]}
    assert words == {"mi-pad": ["电脑"], "lenovo": ["电脑"]}  # "笔记本电脑" holds the word: jieba's search mode
    assert [it["id"] for it in svc.search(SearchRequest("手机"))["items"]] == ["phone"]
    # the configured language wins over detection: an English analyzer reads "平板电脑" as one word
    english = tmp_path / "en.toml"
    english.write_text((ROOT / "config" / "pipelines.toml").read_text().replace('language = "auto"', 'language = "en"'))
    en = _service(services, url, tmp_path / "home-en", pipelines=english)
    assert en.search_language == "en" and en.search(SearchRequest("电脑"))["total"] == 0


def test_a_filter_nothing_meets_is_an_empty_page_with_the_encoder(tmp_path: Path, services: list[Service]) -> None:
    svc = _service(services, _shop(tmp_path, LAB), tmp_path / "home", semantic=True)
    with TestClient(create_app(svc, Keys())) as http:
        for params in ({"q": "gloves", "brand": "NoSuchBrand"}, {"q": "electrical voltage tester", "price_max": 1},
                       {"q": "gloves", "category": "Nowhere", "mode": "vector"}):
            r = http.get("/v1/search", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["items"] == [] and body["total"] == 0 and body["facets"] == {"brand": [], "category": []}


def test_hybrid_over_http_finds_by_words_and_by_meaning(tmp_path: Path, services: list[Service]) -> None:
    svc = _service(services, _shop(tmp_path, LAB), tmp_path / "home", semantic=True)
    with TestClient(create_app(svc, Keys())) as http:
        assert http.get("/v1/search", params={"q": "hand protection"}).json()["mode"] == "lexical"  # auto, no ranker
        body = http.get("/v1/search", params={"q": "hand protection", "mode": "hybrid"}).json()
        assert body["mode"] == "hybrid" and body["fallback"] is None
        by_id = {it["id"]: it["reasons"][0] for it in body["items"]}
        assert list(by_id)[0] == "nitrile" and by_id["nitrile"]["evidence"]["matched_terms"] == ["hand", "protection"]
        latex = by_id["latex"]  # no word in common: the encoder's side of hybrid, at least 0.45 close
        assert latex["text"] == "Close in meaning to 'hand protection'" and latex["evidence"]["matched_terms"] == []
        assert latex["evidence"]["similarity"] >= 0.45 and latex["source"] == "hybrid"
        assert {f["value"]: f["count"] for f in body["facets"]["category"]} == {"Safety": 2}
        lexical = http.get("/v1/search", params={"q": "hand protection", "mode": "lexical"}).json()
        assert lexical["mode"] == "lexical" and [it["id"] for it in lexical["items"]] == ["nitrile"]
        assert lexical["facets"]["category"] == [{"value": "Safety", "count": 1}]
        assert http.get("/v1/search", params={"q": "gloves", "mode": "learned"}).status_code == 422  # no ranker


def test_rules_apply_to_the_semantic_fallback(tmp_path: Path, services: list[Service]) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text((ROOT / "config" / "pipelines.toml").read_text().replace("rules = []", """
[[rules]]
name = "instruments"
action = "boost"
categories = ["Instruments"]
factor = 1.5

[[rules]]
name = "filament first"
action = "pin"
items = ["filament"]
position = 0
scenarios = ["search"]
"""))
    svc = _service(services, _shop(tmp_path, LAB), tmp_path / "home", semantic=True, pipelines=rules)
    out = svc.search(SearchRequest("electrical voltage tester"))
    assert out["fallback"] == "semantic" and [it["id"] for it in out["items"]][:2] == ["filament", "meter"]
    pinned, meter = out["items"][0]["reasons"], out["items"][1]["reasons"]
    assert [r["text"] for r in pinned] == ["Pinned by the shop (it does not match your search)"]
    assert [r["source"] for r in meter] == ["semantic", "rule:instruments"]
    assert meter[1]["text"] == "Promoted by the shop (score x1.5)"


JUDGED = [(q, ext, g) for q, best, others in [
    ("gloves", "latex", ["nitrile"]), ("hand protection", "nitrile", ["latex"]), ("glass beaker", "beaker", []),
    ("multimeter", "meter", []), ("test probes", "meter", []), ("printer filament", "filament", []),
    ("sandpaper", "sandpaper", []), ("blue gloves", "nitrile", ["latex"]), ("latex gloves", "latex", ["nitrile"]),
    ("beaker set", "beaker", []), ("3d printer", "filament", []), ("grit sheets", "sandpaper", []),
] for ext, g in [(best, 2.0), *((o, 1.0) for o in others)]]


def test_a_promoted_ranker_makes_learned_the_mode_over_http(tmp_path: Path, services: list[Service]) -> None:
    url = _shop(tmp_path, LAB, JUDGED)
    home = tmp_path / "home"
    svc = _service(services, url, home, reload_interval_s=0.05)
    with TestClient(create_app(svc, Keys())) as http:
        assert http.get("/v1/search", params={"q": "gloves"}).json()["mode"] == "lexical"
        store = open_store(url)
        reg = ModelRegistry(home / "models")
        version = train_ranker_version(store, reg, {"holdout": 0.25, "seed": 1, "epochs": 5, "min_data_in_leaf": 1,
                                                    "early_stopping": 0, "candidates": 10}, lambda _m: None)
        store.close()
        assert set(version.manifest["metrics"]) == {"ndcg@10", "recall@100"}
        time.sleep(0.2)
        assert http.get("/v1/search", params={"q": "gloves"}).json()["mode"] == "lexical"  # registered, not live
        reg.promote(RANKER, version.version)
        deadline = time.monotonic() + 10
        while svc.ranker_label is None and time.monotonic() < deadline:  # the reload loop picks it up
            time.sleep(0.05)
        body = http.get("/v1/search", params={"q": "gloves"}).json()
        assert svc.ranker_label == f"ranker {version.version}" and body["mode"] == "learned"
        assert body["items"][0]["id"] == "latex"
        assert body["items"][0]["reasons"][0]["source"] == f"learned:{version.version}"
        assert body["items"][0]["reasons"][0]["evidence"]["matched_terms"] == ["gloves"]
