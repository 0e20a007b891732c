"""The engine on a tiny synthetic catalogue with a deterministic bag-of-words encoder (conftest.HashEncoder)."""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.data.rows import ItemRow
from shopsage.errors import NotFittedError, ValidationError
from shopsage.search import SearchConfig, SearchEngine, SearchRequest
from shopsage.search.ranker import LearnedRanker, RankerConfig

ROWS = [
    ItemRow("sku-1", "Red running shoes", category_path=("Shoes", "Running"), brand="Nike", price=80.0),
    ItemRow("sku-2", "Trail running shoes", category_path=("Shoes", "Trail"), brand="Salomon", price=120.0, stock=0),
    ItemRow("sku-3", "Garden hose 50 ft", category_path=("Garden", "Hoses"), brand="Gardena", price=30.0),
    ItemRow("sku-4", "Garden hose reel", category_path=("Garden", "Hoses"), brand="Gardena", price=60.0),
    ItemRow("sku-5", "Cordless drill 18V", category_path=("Tools", "Drills"), brand="Makita", price=150.0),
    ItemRow("sku-6", "Drill bit set", category_path=("Tools", "Accessories"), brand="Bosch", price=25.0),
]


@pytest.fixture
def engine(hash_encoder) -> SearchEngine:  # type: ignore[no-untyped-def]  # tests/search/conftest.py
    e = SearchEngine(SearchConfig(candidates=10), encoder=hash_encoder)
    e.index(ROWS)
    return e


@pytest.mark.parametrize("mode", ["lexical", "vector", "hybrid"])
def test_every_mode_finds_the_obvious_item(engine: SearchEngine, mode: str) -> None:
    res = engine.search(["garden hose reel", "cordless drill"], 3, mode)  # type: ignore[arg-type]
    assert engine.catalog.external(res.row(0)[0][:1]) == ["sku-4"]
    assert engine.catalog.external(res.row(1)[0][:1]) == ["sku-5"]


def test_filters_and_facets(engine: SearchEngine) -> None:
    def ids(q: str, **kw: object) -> list[str]:
        return engine.query(SearchRequest(q, **kw)).ids  # type: ignore[arg-type]

    assert ids("running shoes", mode="lexical", in_stock=True) == ["sku-1"]
    assert ids("garden hose", mode="lexical", price_max=40) == ["sku-3"]
    assert ids("drill", mode="hybrid", brands=("bosch",)) == ["sku-6"]
    assert ids("shoes", mode="lexical", categories=("Trail",)) == ["sku-2"]
    facets = engine.query(SearchRequest("shoes", mode="lexical")).facets
    assert dict(facets["brand"]) == {"Nike": 1, "Salomon": 1}


def test_update_and_delete_reach_every_index(engine: SearchEngine) -> None:
    engine.index([ItemRow("sku-3", "Kitchen faucet", category_path=("Plumbing",), brand="Moen")])
    engine.delete(["sku-4"])
    for mode in ("lexical", "vector", "hybrid"):
        found = engine.catalog.external(engine.search(["garden hose"], 6, mode).row(0)[0])  # type: ignore[arg-type]
        assert "sku-3" not in found[:1] and "sku-4" not in found
    assert engine.query(SearchRequest("kitchen faucet", mode="lexical")).ids[0] == "sku-3"


def test_zero_results_fall_back(engine: SearchEngine) -> None:
    r = engine.query(SearchRequest("gardn hoze", mode="lexical"))
    assert r.ids[0] in {"sku-3", "sku-4"} and r.corrections == {"gardn": "garden"}  # "hoze": 4 letters, no typo
    # no word matches, even corrected: the items nearest in meaning (the hash encoder: a shared word)
    r = engine.query(SearchRequest("qqqq makita", mode="lexical", brands=("Bosch",)))
    assert r.ids == [] and r.total == 0 and r.fallback is None  # nothing of Bosch is close to the query
    r = engine.query(SearchRequest("zzzz qqqq", mode="lexical"))
    assert r.ids == [] and r.fallback is None  # gibberish: nothing is close


def test_query_understanding(engine: SearchEngine) -> None:
    engine.add_past_queries(["garden hose", "garden hose"])
    assert engine.query(SearchRequest("hose", predict_categories=True)).categories[0][0] == "hoses"
    r = engine.query(SearchRequest("cordles drill", mode="lexical"))
    assert r.corrections == {"cordles": "cordless"} and r.ids[0] == "sku-5"
    assert engine.correct("cordles drill") == "cordless drill"
    assert engine.autocomplete.complete("gar")[0] == "garden hose"


def test_learned_ranker_learns_from_judgments(engine: SearchEngine, tmp_path) -> None:
    with pytest.raises(NotFittedError):
        engine.search(["hose"], 3, "learned")
    engine.config.ranker = RankerConfig(epochs=30, min_data_in_leaf=1, early_stopping=0, num_leaves=4)
    # Of the items matching each query, shoppers want the more expensive one: text alone cannot
    # tell which, text plus price can.
    wanted = {"garden hose": "sku-4", "hose": "sku-4", "garden": "sku-4", "drill": "sku-5",
              "cordless drill": "sku-5", "running shoes": "sku-2", "shoes": "sku-2", "running": "sku-2",
              "drill bit": "sku-5", "reel": "sku-4"}
    judgments = [(q, ext, 2.0) for q, ext in wanted.items()]
    ranker = engine.fit_ranker(judgments)
    top = engine.catalog.external(engine.search(["garden hose", "shoes"], 1, "learned").ids[:, 0])
    assert top == ["sku-4", "sku-2"]
    ranker.save(tmp_path / "ranker")
    back = LearnedRanker.load(tmp_path / "ranker")
    x = np.random.default_rng(0).normal(size=(5, len(ranker.feature_names))).astype(np.float32)
    np.testing.assert_allclose(back.predict(x), ranker.predict(x), rtol=1e-6)


def test_lexical_only_engine_refuses_vector_modes() -> None:
    e = SearchEngine(SearchConfig())
    e.index(ROWS)
    with pytest.raises(NotFittedError, match="no text encoder"):
        e.search(["hose"], 3, "vector")
    with pytest.raises(ValidationError, match="no text encoder"):
        e.query(SearchRequest("hose", mode="hybrid"))
    assert e.query(SearchRequest("hose")).mode == "lexical"  # auto: the best it can serve


def test_trigram_feature_equals_set_jaccard(engine: SearchEngine) -> None:
    from shopsage.search.catalog import char_trigrams

    engine.index([ItemRow("sku-7", "")])  # an empty title has no trigrams
    ids = np.array([0, 2, 6, 4])
    got = engine.features._trigram_jaccard("garden hoze", ids)
    q = char_trigrams("garden hoze")
    want = [len(q & char_trigrams(engine.catalog.titles[i])) / len(q | char_trigrams(engine.catalog.titles[i]))
            if engine.catalog.titles[i] else 0.0 for i in ids]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got[1] > got[0]


def test_save_and_load_answer_the_same(engine: SearchEngine, tmp_path, hash_encoder) -> None:
    engine.config.ranker = RankerConfig(epochs=10, min_data_in_leaf=1, early_stopping=0)
    engine.fit_ranker([("hose", "sku-4", 2.0), ("drill", "sku-5", 2.0), ("shoes", "sku-2", 2.0)])
    engine.add_past_queries(["garden hose"])
    engine.delete(["sku-1"])
    engine.save(tmp_path / "engine")
    back = SearchEngine.load(tmp_path / "engine", encoder=hash_encoder)
    for mode in ("lexical", "vector", "hybrid", "learned"):
        a = engine.search(["garden hose", "shoes"], 4, mode)  # type: ignore[arg-type]
        b = back.search(["garden hose", "shoes"], 4, mode)  # type: ignore[arg-type]
        assert (a.ids == b.ids).all(), mode
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5)
    assert back.catalog.vocabulary() == engine.catalog.vocabulary()
    assert back.autocomplete.complete("gar") == engine.autocomplete.complete("gar")
    assert back.query(SearchRequest("hose", mode="lexical", price_max=40)).ids == ["sku-3"]


def test_the_query_encoder_reads_the_spelling_corrected_query(engine: SearchEngine, hash_encoder) -> None:
    typo = "cordles drils"  # neither word is in the catalogue: the word-hash encoder finds no shared word
    assert engine.dense_text(typo) == "cordless drill"
    assert engine.dense_text("garden hose") == "garden hose"  # known words stay as typed
    fixed = engine.search([typo], 1, "vector")
    assert engine.catalog.external(fixed.row(0)[0]) == ["sku-5"]
    np.testing.assert_allclose(engine.query_vectors([typo])[0], hash_encoder.encode_query("cordless drill"))
    np.testing.assert_allclose(fixed.row(0)[1][0], engine.search(["cordless drill"], 1, "vector").row(0)[1][0])
    hybrid = engine.search([typo], 1, "hybrid")
    assert engine.catalog.external(hybrid.row(0)[0]) == ["sku-5"]

    engine.config.dense_spelling = False
    assert engine.dense_text(typo) == typo
    np.testing.assert_allclose(engine.query_vectors([typo])[0], hash_encoder.encode_query(typo))
    raw = engine.search([typo], 1, "vector")
    assert raw.row(0)[1][0] < fixed.row(0)[1][0]  # the typed words share no word with the drill's title
