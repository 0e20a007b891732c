"""The front door's search conventions: filter expressions, facets counted over the filtered results
(against a brute-force count), sorts on any attribute, and highlights that escape HTML."""

from __future__ import annotations

import html
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.data.rows import ItemRow
from shopsage.errors import SearchParameterError
from shopsage.search import SearchEngine, SearchRequest
from shopsage.search.highlight import MARK, UNMARK, highlight, highlight_prefix
from shopsage.search.index_settings import IndexSettings
from shopsage.text.analyzers import make_analyzer

_COLORS = ["red", "blue", "green", None]
_BRANDS = ["Gardena", "Bosch", "Makita"]
_NOUNS = ["drill", "hose", "saw", "glove"]


def _catalogue(seed: int, n: int = 60) -> list[ItemRow]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        attrs: dict[str, object] = {"rating": rng.choice([1, 2, 3, 4, 5, 4.5])}
        color = rng.choice(_COLORS)
        if color:
            attrs["color"] = color
        noun = rng.choice(_NOUNS)
        rows.append(ItemRow(f"i{i}", f"{rng.choice(['Cordless', 'Garden', 'Heavy'])} {noun} {i}",
                            category_path=("Tools", noun.title() + "s"), brand=rng.choice(_BRANDS),
                            price=round(rng.uniform(5, 200), 2), stock=rng.choice([None, 0, 3]), attributes=attrs))
    return rows


@pytest.fixture(scope="module")
def shop() -> tuple[SearchEngine, list[ItemRow]]:
    rows = _catalogue(7)
    engine = SearchEngine()
    engine.index(rows)
    return engine, rows


def _everything(engine: SearchEngine, q: str, **kw: object) -> list[str]:
    return engine.query(SearchRequest(q, per_page=1000, **kw)).ids  # type: ignore[arg-type]


def test_facet_counts_equal_a_brute_force_count_over_the_filtered_results(shop) -> None:  # type: ignore[no-untyped-def]
    engine, rows = shop
    by_id = {r.ext_id: r for r in rows}
    for flt in (None, "price < 100", 'brand = "Bosch" OR color IN [red, blue]', "NOT in_stock = false"):
        page = engine.query(SearchRequest("drill hose saw glove", filter_expr=flt, per_page=5,
                                          facets=("brand", "category", "color", "rating")))
        found = _everything(engine, "drill hose saw glove", filter_expr=flt)
        assert page.total == len(found) and len(page.ids) == min(5, len(found))
        for facet, key in (("brand", lambda r: r.brand), ("category", lambda r: r.category_path[-1]),
                           ("color", lambda r: (r.attributes or {}).get("color")),
                           ("rating", lambda r: (r.attributes or {}).get("rating"))):
            brute: dict[str, int] = {}
            for i in found:
                v = key(by_id[i])
                if v is not None:
                    label = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
                    brute[label] = brute.get(label, 0) + 1
            assert dict(page.facets[facet]) == brute, (flt, facet)
        ratings = [(by_id[i].attributes or {})["rating"] for i in found]
        assert page.facet_stats["rating"] == {"min": min(ratings), "max": max(ratings)}


def test_filter_expressions_and_the_older_filters_combine(shop) -> None:  # type: ignore[no-untyped-def]
    engine, rows = shop
    got = set(_everything(engine, "drill", filter_expr="price 20 TO 120 AND color != red", brands=("makita",)))
    want = {r.ext_id for r in rows if "drill" in (r.title or "") and 20 <= (r.price or 0) <= 120
            and (r.attributes or {}).get("color") != "red" and r.brand == "Makita"}
    assert got == want and want


@pytest.mark.parametrize(("sort", "key"), [
    ("price:asc", lambda r: (r.price,)),
    ("price:desc", lambda r: (-r.price,)),
    ("price_asc", lambda r: (r.price,)),
    ("rating:desc,price:asc", lambda r: (-r.attributes["rating"], r.price)),
    ("brand:asc, price:desc", lambda r: (r.brand.casefold(), -r.price)),
])
def test_sorts_on_any_sortable_attribute(shop, sort, key) -> None:  # type: ignore[no-untyped-def]
    engine, rows = shop
    by_id = {r.ext_id: r for r in rows}
    got = _everything(engine, "drill hose", sort=sort)
    assert got == sorted(got, key=lambda i: key(by_id[i])) and len(got) > 5


def test_items_without_the_sorted_attribute_come_last_either_way(shop) -> None:  # type: ignore[no-untyped-def]
    engine, rows = shop
    for sort in ("color:asc", "color:desc"):
        got = _everything(engine, "drill hose saw glove", sort=sort)
        colors = [({r.ext_id: r for r in rows}[i].attributes or {}).get("color") for i in got]
        first_missing = colors.index(None)
        assert all(c is None for c in colors[first_missing:])
        known = colors[:first_missing]
        assert known == sorted(known, reverse=sort.endswith("desc"))


@pytest.mark.parametrize(("kw", "parameter", "words"), [
    ({"filter_expr": "colour = red"}, "filter", "did you mean color"),
    ({"facets": ("brand", "weight")}, "facets", "unknown attribute 'weight'"),
    ({"sort": "weight:asc"}, "sort", "unknown attribute 'weight'"),
    ({"sort": "price:up"}, "sort", "field:asc or field:desc"),
    ({"highlight": ("title", "sku")}, "highlight", "cannot highlight sku"),
])
def test_unknown_attributes_and_malformed_parameters_are_search_parameter_errors(shop, kw, parameter,  # type: ignore[no-untyped-def]
                                                                                 words) -> None:
    engine, _ = shop
    with pytest.raises(SearchParameterError) as err:
        engine.query(SearchRequest("drill", **kw))
    assert err.value.parameter == parameter and words in str(err.value)


def test_settings_limit_facetable_and_sortable_attributes() -> None:
    engine = SearchEngine()
    engine.index(_catalogue(3, 10))
    engine.apply_settings(IndexSettings(facetable_attributes=["brand", "category"], sortable_attributes=["price"]))
    with pytest.raises(SearchParameterError, match="not facetable"):
        engine.query(SearchRequest("drill", facets=("color",)))
    with pytest.raises(SearchParameterError, match="not sortable"):
        engine.query(SearchRequest("drill", sort="rating:desc"))
    engine.query(SearchRequest("drill", sort="price:desc"))


def test_highlights_mark_matched_words_and_escape_the_rest() -> None:
    engine = SearchEngine()
    engine.index([ItemRow("x", "<script>alert('drill')</script> Drills & Bits", brand="Bosch <b>",
                          category_path=("Tools", "Drills"))])
    hit = engine.query(SearchRequest("drill", highlight=("title", "brand", "category"))).hits[0]
    assert hit.formatted == {
        "title": "&lt;script&gt;alert(&#x27;<mark>drill</mark>&#x27;)&lt;/script&gt; <mark>Drills</mark> &amp; Bits",
        "brand": "Bosch &lt;b&gt;", "category": "Tools &gt; <mark>Drills</mark>"}


_english = make_analyzer("english")


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=60),
       st.lists(st.sampled_from(["drill", "script", "a", "amp", "lt", "b", "mark", "<", "&"]), max_size=3))
def test_highlighting_only_adds_marks_around_matched_words(text: str, words: list[str]) -> None:
    terms = _english.analyze(" ".join(words))
    out = highlight(_english, terms, text)
    assert "<" not in out.replace(MARK, "").replace(UNMARK, "")  # nothing of the text can open a tag
    base = html.unescape(out.replace(MARK, "").replace(UNMARK, ""))
    import unicodedata
    assert base == unicodedata.normalize("NFKC", text)  # the text itself, in the form the analyzer reads
    for marked in re.findall(f"{MARK}(.*?){UNMARK}", out, flags=re.DOTALL):
        assert set(_english.analyze(html.unescape(marked))) <= set(terms) and marked


def test_chinese_highlights_and_prefix_marks() -> None:
    zh = make_analyzer("chinese")
    assert highlight(zh, zh.analyze("电脑"), "联想笔记本电脑<新>") == "联想笔记本<mark>电脑</mark>&lt;新&gt;"
    assert highlight_prefix("cordless <drill>", "dri") == "cordless &lt;<mark>dri</mark>ll&gt;"
    assert highlight_prefix("hydrill", "dri") == "hydrill"  # inside a word: not where the prefix matched
