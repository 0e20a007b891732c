"""Filter expressions: the parser (valid and malformed, with columns), printing round trips, and the
vectorised evaluation against a plain-Python reference over random catalogues."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.data.rows import ItemRow
from shopsage.errors import SearchParameterError
from shopsage.search.attributes import AttributeTable
from shopsage.search.filtering import (
    And,
    Compare,
    Exists,
    In,
    Not,
    Or,
    Range,
    Value,
    check,
    evaluate,
    parse,
    to_text,
)


def test_parses_the_documented_examples() -> None:
    assert parse('brand = "Gardena" AND price < 50') == And((
        Compare("brand", "=", Value("Gardena")), Compare("price", "<", Value(50.0, "number"))))
    assert parse('category IN ["Tools", "Garden"]') == In("category", (Value("Tools"), Value("Garden")))
    assert parse("NOT in_stock = false") == Not(Compare("in_stock", "=", Value(False, "bool")))
    assert parse("price 10 TO 50") == Range("price", Value(10.0, "number"), Value(50.0, "number"))
    assert parse("(a = 1 OR b != x) AND color EXISTS") == And((
        Or((Compare("a", "=", Value(1.0, "number")), Compare("b", "!=", Value("x", "word")))), Exists("color")))
    assert parse("rating >= 4 and color not exists or size not in [s, 'm']") == Or((
        And((Compare("rating", ">=", Value(4.0, "number")), Exists("color", True))),
        In("size", (Value("s", "word"), Value("m")), True)))
    assert parse('"screen size" > -1.5e1') == Compare("screen size", ">", Value(-15.0, "number"))
    assert parse('name = "say \\"hi\\""') == Compare("name", "=", Value('say "hi"'))
    assert parse("颜色 = 红色") == Compare("颜色", "=", Value("红色", "word"))


@pytest.mark.parametrize(("text", "column", "words"), [
    ("", 1, "empty"),
    ("brand = ", 9, "expected a value after '='"),
    ("brand == 1", 8, "found '='"),
    ("(price < 5", 11, "close the '(' of column 1"),
    ("price < 5)", 10, "unopened ')'"),
    ("price < 5 brand = x", 11, "join conditions with AND or OR"),
    ('brand = "Gard', 9, "not closed"),
    ("brand # 1", 7, "unexpected character '#'"),
    ("color IN [red, ", 16, "expected a value after ','"),
    ("color IN red", 10, "'[' to open the list"),
    ("price 10 50", 10, "expected TO"),
    ("AND price < 1", 1, "expected an attribute name"),
    ("color NOT = x", 11, "expected IN or EXISTS after NOT"),
    ("(" * 40 + "a = 1" + ")" * 40, 33, "nests deeper than 32"),
])
def test_malformed_expressions_say_what_and_where(text: str, column: int, words: str) -> None:
    with pytest.raises(SearchParameterError) as err:
        parse(text)
    assert err.value.column == column and words in err.value.problem, err.value
    assert err.value.detail == [{"parameter": "filter", "column": column, "problem": err.value.problem}]


def test_check_names_unknown_attributes_and_non_numbers() -> None:
    known = {"brand", "price", "color"}
    with pytest.raises(SearchParameterError, match=r"column 15\).*unknown attribute 'brnd': did you mean brand"):
        check(parse("price < 5 AND brnd = x"), known)
    with pytest.raises(SearchParameterError, match=r"price < needs a number"):
        check(parse('price < "cheap"'), known)
    with pytest.raises(SearchParameterError, match="is empty"):
        check(parse("price 50 TO 10"), known)
    check(parse('price < "12.5" AND color IN [red]'), known)  # a numeric string is a number


# ---------------------------------------------------------------------- round trips
_names = st.sampled_from(["brand", "price", "color", "rating", "size", "screen size", "to", "a.b", "x-y", "颜色"])
_values = st.one_of(
    st.builds(Value, st.text(min_size=0, max_size=8), st.just("string")),
    st.builds(Value, st.floats(allow_nan=False, allow_infinity=False, width=64), st.just("number")),
    st.builds(Value, st.booleans(), st.just("bool")),
    st.builds(Value, st.sampled_from(["red", "Gardena", "x_1", "blue-green", "v1.2"]), st.just("word")))
_conditions = st.one_of(
    st.builds(Compare, _names, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), _values),
    st.builds(Range, _names, _values, _values),
    st.builds(In, _names, st.lists(_values, min_size=1, max_size=3).map(tuple), st.booleans()),
    st.builds(Exists, _names, st.booleans()))


_exprs = st.recursive(_conditions, lambda inner: st.one_of(
    st.builds(Not, inner),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs)))), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_exprs)
def test_a_printed_tree_parses_back_to_itself(expr) -> None:  # type: ignore[no-untyped-def]
    assert parse(to_text(expr)) == expr


# ---------------------------------------------------------------------- evaluation against a reference
_COLORS = ["red", "Red", "blue", "green", "50"]


def _norm(v: object) -> object:
    """The reference's equality: booleans as themselves, numbers (and numeric strings) as floats, text case-folded."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int | float):
        return ("number", float(v))
    try:
        return ("number", float(str(v)))
    except ValueError:
        return ("text", str(v).casefold())


def _num(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _reference(expr, item: dict[str, list[object]]) -> bool:  # type: ignore[no-untyped-def]
    if isinstance(expr, And):
        return all(_reference(e, item) for e in expr.items)
    if isinstance(expr, Or):
        return any(_reference(e, item) for e in expr.items)
    if isinstance(expr, Not):
        return not _reference(expr.expr, item)
    vals = item.get(expr.attr, [])
    if isinstance(expr, Exists):
        return bool(vals) != expr.negated
    if isinstance(expr, In):
        return any(_norm(v) == _norm(w.value) for v in vals for w in expr.values) != expr.negated
    if isinstance(expr, Range):
        return any((n := _num(v)) is not None and expr.low.value <= n <= expr.high.value for v in vals)
    if expr.op == "=":
        return any(_norm(v) == _norm(expr.value.value) for v in vals)
    if expr.op == "!=":
        return not any(_norm(v) == _norm(expr.value.value) for v in vals)
    ops = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}
    return any((n := _num(v)) is not None and ops[expr.op](n, float(expr.value.value)) for v in vals)


_item = st.fixed_dictionaries({}, optional={
    "color": st.sampled_from(_COLORS), "rating": st.one_of(st.integers(0, 5), st.sampled_from([2.5, "4", "n/a"])),
    "promo": st.booleans()})
_eval_values = st.one_of(st.sampled_from([Value(c) for c in _COLORS] + [Value("RED", "word"), Value(True, "bool"),
                                                                       Value(False, "bool")]),
                         st.integers(0, 5).map(lambda i: Value(float(i), "number")))
_num_values = st.integers(0, 5).map(lambda i: Value(float(i), "number"))
_attrs = st.sampled_from(["color", "rating", "promo", "category", "price"])
_eval_conditions = st.one_of(
    st.builds(Compare, _attrs, st.sampled_from(["=", "!="]), _eval_values),
    st.builds(Compare, _attrs, st.sampled_from(["<", "<=", ">", ">="]), _num_values),
    st.tuples(_attrs, _num_values, _num_values).map(
        lambda t: Range(t[0], *sorted((t[1], t[2]), key=lambda v: v.value))),
    st.builds(In, _attrs, st.lists(_eval_values, min_size=1, max_size=3).map(tuple), st.booleans()),
    st.builds(Exists, _attrs, st.booleans()))
_eval_exprs = st.recursive(_eval_conditions, lambda inner: st.one_of(
    st.builds(Not, inner), st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs)))), max_leaves=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_item, st.sampled_from([(), ("Tools",), ("Tools", "Drills"), ("garden", "red")]),
                          st.one_of(st.none(), st.integers(0, 5))), min_size=1, max_size=12), _eval_exprs)
def test_evaluation_equals_a_plain_python_reference(items, expr) -> None:  # type: ignore[no-untyped-def]
    table = AttributeTable()
    rows = [ItemRow(f"i{k}", category_path=cat, price=None if p is None else float(p), attributes=attrs)
            for k, (attrs, cat, p) in enumerate(items)]
    table.set(range(len(rows)), rows)
    got = evaluate(expr, table, len(rows))
    for k, (attrs, cat, p) in enumerate(items):
        item: dict[str, list[object]] = {a: [v] for a, v in attrs.items()}
        if cat:
            item["category"] = list(cat)
        if p is not None:
            item["price"] = [p]
        assert bool(got[k]) == _reference(expr, item), (to_text(expr), item)


def test_evaluation_reads_builtins_and_item_attributes() -> None:
    table = AttributeTable()
    rows = [ItemRow("a", "Hose", brand="Gardena", category_path=("Garden", "Hoses"), price=30.0, stock=0,
                    attributes={"color": "Green"}),
            ItemRow("b", "Drill", brand="Bosch", category_path=("Tools",), price=99.0, attributes={"color": "blue"}),
            ItemRow("c", "Saw", brand="gardena", price=None, available=False)]
    table.set(range(3), rows)

    def ids(text: str) -> list[str]:
        expr = parse(text)
        check(expr, set(table.names()))
        return [r.ext_id for r, keep in zip(rows, evaluate(expr, table, 3), strict=True) if keep]

    assert ids('brand = "GARDENA"') == ["a", "c"]
    assert ids("category = hoses") == ["a"]  # any level of the path
    assert ids("NOT in_stock = false") == ["b"]  # a out of stock, c unavailable
    assert ids("price 30 TO 99 AND color != green") == ["b"]
    assert ids("price EXISTS") == ["a", "b"] and ids("price NOT EXISTS") == ["c"]
    assert ids('id IN [a, "c"] OR (brand = bosch AND NOT available = false)') == ["a", "b", "c"]
    assert not math.isnan(float(np.nanmax(table.column("price").sort_key())))


_PIECES = list('ab ()[],"\'=!<>-.1eTONDIXS\\') + ["AND ", " OR ", "NOT ", " IN ", " TO ", " EXISTS", "price", "1e999"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=20).map("".join))
def test_any_text_parses_or_fails_with_a_column(text: str) -> None:
    table = AttributeTable()
    table.set([0, 1], [ItemRow("a", price=3.0, attributes={"b": 10**400}), ItemRow("b", attributes={"a": "x"})])
    try:
        expr = parse(text)
        check(expr, set(table.names()) | {"a", "b"})
    except SearchParameterError as err:
        assert err.column is not None and 1 <= err.column <= len(text) + 1
        return
    assert evaluate(expr, table, 2).shape == (2,)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), _item, st.booleans()), min_size=1, max_size=30), _eval_exprs)
def test_columns_patched_after_updates_equal_columns_built_afresh(updates, expr) -> None:  # type: ignore[no-untyped-def]
    live = AttributeTable()
    live.set(range(12), [ItemRow(f"i{k}", attributes={"color": "red"}) for k in range(12)])
    for slot, attrs, delete in updates:
        evaluate(expr, live, 12)  # build (or patch) the columns between changes
        if delete:
            live.clear([slot])
        else:
            live.set([slot], [ItemRow(f"i{slot}", category_path=("Tools",), attributes=attrs)])
    fresh = AttributeTable()
    fresh.load_json(live.to_json())
    assert (evaluate(expr, live, 12) == evaluate(expr, fresh, 12)).all()
    for name in ("color", "rating", "category"):
        a, b = (np.nan_to_num(t.column(name).sort_key(), nan=-1) for t in (live, fresh))
        assert np.array_equal(np.unique(a, return_inverse=True)[1], np.unique(b, return_inverse=True)[1])  # one order
