"""The front door on a small catalogue with known answers: evidence, facets, total and pages, rules,
sorts, personalization, modes and the fallback chain, each checked against the data."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from shopsage.data.rows import ItemRow
from shopsage.errors import NotFittedError, ValidationError
from shopsage.policy import Rule
from shopsage.profiles import Profile
from shopsage.search import LexicalConfig, SearchConfig, SearchEngine, SearchPage, SearchRequest
from shopsage.search.ranker import RankerConfig
from shopsage.text import EnglishAnalyzer

ROWS = [
    ItemRow("d1", "Cordless Drill 18V", category_path=("Tools", "Drills"), brand="Makita", price=150.0),
    ItemRow("d2", "Hammer drill", category_path=("Tools", "Drills"), brand="Bosch", price=99.0),
    ItemRow("b1", "Drill bit set", category_path=("Tools", "Accessories"), brand="Bosch", price=25.0),
    ItemRow("h1", "Garden hose 50 ft", category_path=("Garden", "Hoses"), brand="Gardena", price=30.0),
    ItemRow("h2", "Garden hose reel", category_path=("Garden", "Hoses"), brand="Gardena", price=60.0),
    ItemRow("s1", "Red running shoes", category_path=("Shoes", "Running"), brand="Nike", price=80.0),
    ItemRow("f1", "Kitchen faucet", category_path=("Plumbing", "Faucets"), brand="Moen", price=179.0),
]
BRAND = {r.ext_id: r.brand for r in ROWS}
PRICE = {r.ext_id: r.price for r in ROWS}


def _engine(encoder: object = None, **cfg: object) -> SearchEngine:
    e = SearchEngine(SearchConfig(candidates=10, **cfg), encoder)  # type: ignore[arg-type]
    e.index(ROWS)
    return e


def _all(engine: SearchEngine, q: str, rules: list[Rule] | None = None, **kw: object) -> SearchPage:
    return engine.query(SearchRequest(q, per_page=100, **kw), rules or [])  # type: ignore[arg-type]


def test_a_stemmed_match_quotes_the_word_as_the_item_writes_it() -> None:
    page = _all(_engine(), "drills")
    assert sorted(page.ids) == ["b1", "d1", "d2"] and page.mode == "lexical"
    stem = EnglishAnalyzer().term("drills")
    for hit in page.hits:
        (reason,) = hit.reasons
        words = reason.evidence["matched_terms"]
        title = next(r.title for r in ROWS if r.ext_id == hit.id) or ""
        assert len(words) == 1 and words[0] in title.split() and EnglishAnalyzer().term(words[0].casefold()) == stem
        assert reason.text == f"Matches '{words[0]}'"
    assert {h.id: h.reasons[0].evidence["matched_terms"] for h in page.hits} == {"d1": ["Drill"], "d2": ["drill"],
                                                                                 "b1": ["Drill"]}


def test_a_pinned_item_the_query_did_not_find_says_only_that_it_is_pinned() -> None:
    engine = _engine()
    pins = [Rule(name="faucet first", action="pin", items=["f1"], position=0)]
    page = _all(engine, "drill", pins)
    assert page.ids[0] == "f1" and sorted(page.ids[1:]) == ["b1", "d1", "d2"] and page.total == 4
    (only,) = page.hits[0].reasons
    assert only.stage == "rules" and only.text == "Pinned by the shop (it does not match your search)"
    assert only.evidence == {"rule": "faucet first", "action": "pin", "factor": None, "position": 0, "matches_query": False}
    assert all(r.stage != "search" and "Matches" not in r.text for r in page.hits[0].reasons)
    # a pinned item the query found keeps its match and says where the pin put it
    page = _all(engine, "drill", [Rule(name="bosch hammer", action="pin", items=["d2"], position=0)])
    assert page.ids[0] == "d2"
    assert [r.stage for r in page.hits[0].reasons] == ["search", "rules"]
    assert page.hits[0].reasons[0].evidence["matched_terms"] == ["drill"]
    assert page.hits[0].reasons[1].evidence["matches_query"] is True and page.hits[0].reasons[1].text == "Pinned by the shop"


def test_boost_and_bury_say_what_they_did() -> None:
    rules = [Rule(name="makita", action="boost", brands=["Makita"], factor=3.0),
             Rule(name="no bosch", action="bury", brands=["Bosch"])]
    plain, ruled = _all(_engine(), "drill"), _all(_engine(), "drill", rules)
    assert ruled.ids[0] == "d1" and [BRAND[i] for i in ruled.ids[1:]] == ["Bosch", "Bosch"]
    score = {h.id: h.score for h in plain.hits}
    d1 = ruled.hits[0]
    assert d1.score == pytest.approx(3.0 * score["d1"])
    assert d1.reasons[-1].text == "Promoted by the shop (score x3)" and d1.reasons[-1].evidence["factor"] == 3.0
    assert all(h.reasons[-1].text == "Placed lower by the shop" for h in ruled.hits[1:])


@pytest.mark.parametrize("mode", ["lexical", "vector", "hybrid"])
def test_facets_and_total_count_the_result_list_of_the_mode(mode: str, hash_encoder) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(hash_encoder, min_similarity=None)  # no floor: hybrid and vector keep every neighbour
    for kw in ({}, {"categories": ("Tools",)}, {"price_max": 70.0}):
        page = _all(engine, "garden drill", mode=mode, **kw)
        assert page.mode == mode and page.total == len(page.ids)
        brands = Counter(BRAND[i] for i in page.ids)
        assert dict(page.facets["brand"]) == dict(brands)
    lexical = _all(engine, "garden drill", mode="lexical")
    hybrid = _all(engine, "garden drill", mode="hybrid")
    assert set(lexical.ids) < set(hybrid.ids)  # hybrid adds items only the vector side found, and counts them


def test_pages_cover_the_list_and_a_filter_nothing_meets_is_an_empty_page(hash_encoder) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(hash_encoder)
    whole = _all(engine, "garden drill")
    pages = [engine.query(SearchRequest("garden drill", page=p, per_page=2)) for p in (1, 2, 3, 4)]
    assert sum((p.ids for p in pages), []) == whole.ids and all(p.total == whole.total for p in pages)
    for mode in ("lexical", "vector", "hybrid"):
        empty = _all(engine, "drill", mode=mode, brands=("NoSuchBrand",))
        assert empty.ids == [] and empty.total == 0 and empty.facets == {"brand": [], "category": []}
    with pytest.raises(ValidationError, match="per_page >= 1"):
        SearchRequest("drill", per_page=0)


def test_a_sort_keeps_pins_in_place_and_buried_items_last() -> None:
    rules = [Rule(name="pin", action="pin", items=["f1"], position=1), Rule(name="down", action="bury", brands=["Bosch"])]
    page = _all(_engine(), "drill garden", rules, sort="price_asc")
    assert page.ids[1] == "f1"
    rest = [i for i in page.ids if i != "f1"]
    unburied, buried = rest[:3], rest[3:]
    assert [BRAND[i] for i in buried] == ["Bosch", "Bosch"]
    assert [PRICE[i] for i in unburied] == sorted(PRICE[i] for i in unburied)
    assert [PRICE[i] for i in buried] == sorted(PRICE[i] for i in buried)
    pop = np.zeros(len(ROWS), np.float32)
    pop[[3, 0]] = [5, 9]  # h1, d1
    by_pop = _all(_engine(), "drill garden", sort="popularity", popularity=pop)
    assert by_pop.ids[:2] == ["d1", "h1"]


def test_personalization_lifts_the_shopper_interest_by_its_share() -> None:
    engine = _engine(personalize_boost=0.5)
    plain = _all(engine, "drill")
    fan = Profile(top_brands=[("Bosch", 3.0), ("Makita", 1.0)])
    mine = _all(engine, "drill", profile=fan)
    base = {h.id: h.score for h in plain.hits}
    assert mine.personalized and not plain.personalized
    for h in mine.hits:
        share = {"Bosch": 0.75, "Makita": 0.25}[BRAND[h.id]]
        assert h.score == pytest.approx(base[h.id] * (1 + 0.5 * share))
        assert h.reasons[-1].evidence == {"brand": BRAND[h.id], "share": share}
    assert [h.id for h in mine.hits] == sorted(base, key=lambda i: -base[i] * (1 + 0.5 * (0.75 if BRAND[i] == "Bosch" else 0.25)))
    by_price = _all(engine, "drill", profile=fan, sort="price_asc")
    assert not by_price.personalized  # an explicit sort is not "ranked higher for your interest"


def test_auto_is_the_best_mode_the_engine_can_serve(hash_encoder) -> None:  # type: ignore[no-untyped-def]
    judgments = [("drill", "d2", 2.0), ("hose", "h2", 2.0), ("shoes", "s1", 2.0), ("faucet", "f1", 2.0)]
    plain = _engine(ranker=RankerConfig(epochs=5, min_data_in_leaf=1, early_stopping=0))
    assert _all(plain, "drill").mode == "lexical"
    with pytest.raises(ValidationError, match="'hybrid' cannot be served.*--semantic"):
        _all(plain, "drill", mode="hybrid")
    plain.fit_ranker(judgments)  # lexical features: it serves an engine with or without an encoder
    page = _all(plain, "drill")
    assert page.mode == "learned" and page.hits[0].reasons[0].source == "learned"
    dense = _engine(hash_encoder, ranker=RankerConfig(epochs=5, min_data_in_leaf=1, early_stopping=0))
    assert _all(dense, "drill").mode == "lexical"  # hybrid measured below BM25F alone (docs/benchmarks.md)
    assert _all(dense, "drill", mode="hybrid").mode == "hybrid"
    dense.fit_ranker(judgments)
    assert dense.ranker is not None and dense.ranker.dense
    assert _all(dense, "drill").mode == "learned"
    plain.use_ranker(dense.ranker)  # trained on the encoder's features: not for an engine without one
    assert _all(plain, "drill").mode == "lexical"
    with pytest.raises(ValidationError, match="--semantic"):
        _all(plain, "drill", mode="learned")
    plain.use_ranker(None)
    plain.config.mode = "learned"  # a configured mode the engine cannot serve is the engine's error
    with pytest.raises(NotFittedError, match="trained ranker"):
        _all(plain, "drill")


def test_the_fallback_chain_spelling_then_meaning(hash_encoder) -> None:  # type: ignore[no-untyped-def]
    strict = _engine(lexical=LexicalConfig(typo_tolerance=False))
    page = _all(strict, "drilk")  # the index does not forgive the typo; the query-level correction does
    assert page.fallback == "spelling" and page.corrected == "drill" and sorted(page.ids) == ["b1", "d1", "d2"]
    assert page.hits[0].reasons[0].evidence["fallback"] == "spelling"
    engine = _engine(hash_encoder, min_similarity=0.3)
    # no word of the query is indexed (stop words), the encoder reads them all: the items nearest in meaning
    engine.index([ItemRow("r1", "Reel for the hose", category_path=("Garden",), brand="Gardena")])
    page = _all(engine, "for the", rules=[Rule(name="gardena", action="boost", brands=["Gardena"], factor=2.0)])
    assert page.fallback == "semantic" and page.ids == ["r1"]
    search, rule = page.hits[0].reasons
    cos = float(hash_encoder.encode_query("for the") @ hash_encoder.encode(["Reel for the hose | Gardena | Garden"])[0])
    assert search.source == "semantic" and search.evidence["similarity"] == pytest.approx(cos, abs=1e-4)
    assert rule.text == "Promoted by the shop (score x2)"  # rules apply to fallback results too
    assert _all(engine, "zzzz qqqq").ids == []  # nothing close: an empty page, not random items
