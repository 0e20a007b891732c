"""Index settings: validated, persisted in the home, and served by the next request of every worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shopsage.data.rows import ItemRow
from shopsage.errors import ConfigError, ValidationError
from shopsage.search import SearchEngine, SearchRequest
from shopsage.search.index_settings import IndexSettings, SettingsFile, SettingsPatch
from shopsage.serving.search import SearchSettings

ROWS = [ItemRow("tv1", "Television 55 inch", brand="Sony", category_path=("Electronics",)),
        ItemRow("d1", "Cordless drill", description="a cheap and strong tool", brand="Bosch"),
        ItemRow("h1", "Cheap garden hose", brand="Gardena"),
        ItemRow("k1", "Spade", brand="Drillmaster")]


def _engine() -> SearchEngine:
    engine = SearchEngine()
    engine.index(ROWS)
    return engine


def _ids(engine: SearchEngine, q: str) -> list[str]:
    return engine.query(SearchRequest(q, mode="lexical", per_page=50)).ids


def test_a_patch_serves_the_next_search_of_every_worker(tmp_path: Path) -> None:
    one, two = _engine(), _engine()  # two workers over one home
    w1, w2 = SearchSettings(tmp_path, one), SearchSettings(tmp_path, two)
    assert w1.apply() == IndexSettings() and _ids(one, "tv") == []
    out = w1.update(SettingsPatch(synonyms={"tv": ["television"]}, stop_words=["cheap"]))
    assert out["synonyms"] == {"tv": ["television"]} and out["updated_at"] is not None
    assert _ids(one, "tv") == ["tv1"]
    assert _ids(two, "tv") == []  # the other worker has not served a request since
    w2.apply()  # what the service does first on every request
    assert _ids(two, "tv") == ["tv1"]
    assert _ids(two, "cheap drill") == ["d1"]  # "cheap" is ignored: the hose no longer matches
    page = two.query(SearchRequest("tv", highlight=("title",)))
    assert page.hits[0].formatted["title"] == "<mark>Television</mark> 55 inch"
    assert (tmp_path / "search-settings.json").is_file()


def test_typo_tolerance_and_searchable_attributes_apply_live() -> None:
    engine = _engine()
    assert _ids(engine, "cordles") == ["d1"] and "k1" in _ids(engine, "drillmaster")
    engine.apply_settings(IndexSettings(typo_tolerance={"enabled": False}))  # type: ignore[arg-type]
    page = engine.query(SearchRequest("cordles", mode="lexical"))
    assert page.ids == [] and page.fallback is None  # no typo, no spelling fallback either
    engine.apply_settings(IndexSettings(typo_tolerance={"min_word_size_for_one_typo": 8,  # type: ignore[arg-type]
                                                        "min_word_size_for_two_typos": 9}))
    assert _ids(engine, "cordles") == []  # 7 letters: no typo allowed now
    engine.apply_settings(IndexSettings(searchable_attributes=["title", "description"]))
    assert _ids(engine, "drillmaster") == []  # a brand word no longer matches
    assert _ids(engine, "strong") == ["d1"]
    engine.apply_settings(IndexSettings())
    assert "k1" in _ids(engine, "drillmaster") and _ids(engine, "cordles") == ["d1"]


def test_patches_replace_fields_null_resets_and_bad_values_are_refused(tmp_path: Path) -> None:
    f = SettingsFile(tmp_path)
    f.update(SettingsPatch(stop_words=["a", "a", "the"], autocomplete_min_shoppers=7))
    assert f.current().stop_words == ["a", "the"] and f.current().autocomplete_min_shoppers == 7
    f.update(SettingsPatch.model_validate({"stop_words": None}))
    assert f.current().stop_words == [] and f.current().autocomplete_min_shoppers == 7
    for patch, words in (({"searchable_attributes": ["sku"]}, "not searchable fields"),
                         ({"autocomplete_min_shoppers": 1}, "autocomplete_min_shoppers"),
                         ({"typo_tolerance": {"min_word_size_for_one_typo": 9, "min_word_size_for_two_typos": 5}},
                          "below"),
                         ({"facetable_attributes": ["*", "brand"]}, "alone"),
                         ({"synonyms": {"a b c d": ["x"]}}, "up to 3 words"),
                         ({"stop_words": ["bad\x00word"]}, "printable")):
        with pytest.raises(ValidationError, match=words):
            f.update(SettingsPatch.model_validate(patch))
    assert f.current().autocomplete_min_shoppers == 7  # nothing of a refused patch was applied
    (tmp_path / "search-settings.json").write_text("{not json")
    os.utime(tmp_path / "search-settings.json", ns=(1, 1))
    with pytest.raises(ConfigError, match="PATCH /v1/settings"):
        f.current()


def test_a_broken_settings_file_keeps_the_last_good_settings_serving(tmp_path: Path) -> None:
    engine = _engine()
    side = SearchSettings(tmp_path, engine)
    side.update(SettingsPatch(synonyms={"tv": ["television"]}))
    (tmp_path / "search-settings.json").write_text('{"synonyms": 3}')
    assert side.apply().synonyms == {"tv": ["television"]} and _ids(engine, "tv") == ["tv1"]
    with pytest.raises(ConfigError, match="search-settings.json"):
        side.apply(strict=True)
    side.update(SettingsPatch(stop_words=["cheap"]))  # a PATCH writes a valid file again
    assert side.apply(strict=True).synonyms == {"tv": ["television"]} and side.apply().stop_words == ["cheap"]
