from __future__ import annotations

import pytest

from shopsage.search import Autocomplete, CategoryPredictor, SpellCorrector, SpellingIndex, edit_distance
from shopsage.text import EnglishAnalyzer


@pytest.mark.parametrize(("a", "b", "d"), [("drill", "drill", 0), ("dril", "drill", 1), ("fuacet", "faucet", 1),
                                           ("kitten", "sitting", 3), ("", "abc", 3)])
def test_edit_distance(a: str, b: str, d: int) -> None:
    assert edit_distance(a, b, limit=5) == d


def test_spelling_prefers_nearest_then_most_frequent() -> None:
    idx = SpellingIndex({"drill": 10, "grill": 50, "drills": 1, "faucet": 5})
    assert idx.candidates("drilll")[0] == ("drill", 1)
    assert idx.candidates("xrill")[0][0] == "grill"
    assert idx.candidates("abc") == []  # too short to correct
    assert idx.split("drillfaucet") == ("drill", "faucet")


def test_spell_corrector_rewrites_unknown_words_only() -> None:
    sc = SpellCorrector(SpellingIndex({"kitchen": 3, "faucet": 3, "sheet": 2, "rock": 2}))
    assert sc.correct("kitchn faucet") == "kitchen faucet"
    assert sc.correct("sheetrock 2x4") == "sheet rock 2x4"
    sc.add_queries(["vanity mirror"])
    assert sc.correct("vanty") == "vanity"


def test_category_predictor() -> None:
    cp = CategoryPredictor(EnglishAnalyzer())
    cp.fit(["cordless drill", "hammer drill", "kitchen faucet", "bathroom faucet", "shower head"],
           ["Tools", "Tools", "Plumbing", "Plumbing", "Plumbing"])
    assert cp.predict("drill bits", 1)[0][0] == "Tools"
    assert cp.predict("faucets", 1)[0][0] == "Plumbing"
    assert abs(sum(p for _, p in cp.predict("anything", 5)) - 1.0) < 1e-9


def test_autocomplete_ranks_past_queries_above_catalogue_phrases() -> None:
    ac = Autocomplete(query_weight=5)
    ac.add_catalogue(["Garden hose 50 ft", "Garden gloves", "Gas grill"])
    assert ac.complete("gar")[0] == "garden"
    ac.add_queries(["garden hose"])
    assert ac.complete("garden ")[0] == "garden hose"
    assert ac.complete("zzz") == []
