"""Typo tolerance by word length (Meilisearch's defaults: one edit from 5 letters, two from 9), in the
lexical index and in the spelling corrector alike, and configurable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shopsage.search import LexicalConfig, LexicalIndex, SearchConfig, SearchEngine
from shopsage.search.spelling import edit_distance

TITLES = ["cordless drill", "orbital sander", "screwdriver set", "garden hose"]


def _index(**cfg: object) -> LexicalIndex:
    ix = LexicalIndex(LexicalConfig(fields={"title": 1.0}, analyzer="english-nostem", **cfg))  # type: ignore[arg-type]
    ix.add(range(len(TITLES)), [{"title": t} for t in TITLES])
    return ix


def _found(ix: LexicalIndex, word: str) -> list[int]:
    return ix.search([word], 4).row(0)[0].tolist()


@pytest.mark.parametrize(("typed", "known", "found"), [
    ("hse", "hose", False),          # 3 letters: typed right or not at all
    ("hoze", "hose", False),         # 4 letters: no typo
    ("drilk", "drill", True),        # 5 letters: one edit
    ("sandr", "sander", True),       # 5 letters: one edit (a missing letter)
    ("ordinal", "orbital", False),   # 7 letters, two edits away: one allowed
    ("crdlss", "cordless", False),   # 6 letters, two edits: one allowed
    ("crdlesss", "cordless", False),  # 8 letters, two edits: still one allowed
    ("scrwdrivr", "screwdriver", True),  # 9 letters: two edits
    ("gardenhose", "garden", False),  # not a typo of one word (a split is: see below)
])
def test_default_thresholds(typed: str, known: str, found: bool) -> None:
    ix = _index(min_word_size_for_one_typo=5, min_word_size_for_two_typos=9)  # the defaults, written out
    assert LexicalConfig().min_word_size_for_one_typo == 5 and LexicalConfig().min_word_size_for_two_typos == 9
    budget = LexicalConfig().typos_allowed(typed)
    assert budget == (0 if len(typed) < 5 else 1 if len(typed) < 9 else 2)
    want = TITLES.index(next(t for t in TITLES if known in t))
    if typed == "gardenhose":
        assert _found(ix, typed) == [want]  # split into two known words ("garden hose"), not corrected
        return
    assert (_found(ix, typed) == [want]) is found, (typed, edit_distance(typed, known))
    assert (ix.query_terms(typed).corrected == {typed: known}) is found


def test_thresholds_are_configurable() -> None:
    assert _found(_index(), "hoze") == []
    assert _found(_index(min_word_size_for_one_typo=4), "hoze") == [3]
    assert _found(_index(min_word_size_for_two_typos=6), "crdlss") == [0]
    assert _found(_index(min_word_size_for_one_typo=6), "drilk") == []
    with pytest.raises(ValidationError, match="two typos need longer words"):
        LexicalConfig(min_word_size_for_one_typo=6, min_word_size_for_two_typos=5)


def test_the_spelling_corrector_follows_the_same_thresholds() -> None:
    engine = SearchEngine(SearchConfig(lexical=LexicalConfig(analyzer="english-nostem")))
    from shopsage.data.rows import ItemRow

    engine.index([ItemRow(f"i{i}", t) for i, t in enumerate(TITLES)])
    assert engine.correct("drilk hoze") == "drill hoze"
    assert engine.correct("scrwdrivr crdlss") == "screwdriver crdlss"
    loose = SearchEngine(SearchConfig(lexical=LexicalConfig(analyzer="english-nostem", min_word_size_for_one_typo=4)))
    loose.index([ItemRow(f"i{i}", t) for i, t in enumerate(TITLES)])
    assert loose.correct("drilk hoze") == "drill hose"
