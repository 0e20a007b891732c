"""Filter expressions over item attributes, Meilisearch-style: parse, print, check and evaluate.

``brand = "Gardena" AND price < 50``, ``category IN ["Tools", "Garden"]``, ``NOT in_stock = false``,
``price 10 TO 50``, ``color EXISTS``... are parsed by a small recursive-descent parser into an
immutable tree (:class:`Or`, :class:`And`, :class:`Not`, :class:`Compare`, :class:`Range`,
:class:`In`, :class:`Exists`) that :func:`evaluate` turns into a ``(capacity,) bool`` mask with one
vectorised comparison per condition over the :class:`~shopsage.search.attributes.AttributeTable`'s
columns. :func:`to_text` prints a tree back; ``parse(to_text(e)) == e`` for every tree.

Grammar (keywords are case-insensitive)::

    expr       := or
    or         := and ("OR" and)*
    and        := not ("AND" not)*
    not        := "NOT" not | primary
    primary    := "(" expr ")" | condition
    condition  := attr OP value                    OP: = != < <= > >=
                | attr value "TO" value            inclusive numeric range
                | attr ["NOT"] "IN" "[" value ("," value)* "]"
                | attr ["NOT"] "EXISTS"
    attr       := identifier | quoted string
    value      := number | true | false | quoted string | bare word

Semantics: ``a = v`` holds when one of the item's values of ``a`` equals ``v`` by
:func:`~shopsage.search.attributes.value_key` (case-insensitive, numbers by value); ``a != v`` is
``NOT a = v``; ``<``, ``<=``, ``>``, ``>=`` and ``TO`` compare numbers only (a value that is not a
number is a 400); ``IN`` is any of the equalities; ``EXISTS`` holds when the item has a value.
Every error is a :class:`~shopsage.errors.SearchParameterError` naming the 1-based column.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from shopsage.errors import SearchParameterError
from shopsage.search.attributes import AttributeTable, value_key, value_number

__all__ = ["Expr", "Or", "And", "Not", "Compare", "Range", "In", "Exists", "Value", "parse", "to_text", "evaluate",
           "check", "attributes_of", "MAX_DEPTH"]

MAX_DEPTH = 32
"""Deepest nesting of parentheses and NOTs a filter may have."""
_KEYWORDS = {"and", "or", "not", "in", "to", "exists", "true", "false"}
_OPS = ("<=", ">=", "!=", "=", "<", ">")
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<op><=|>=|!=|=|<|>)
  | (?P<punct>[()\[\],])
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<word>[^\W\d][\w.-]*|\d[\w.-]*)
""", re.VERBOSE)
_IDENT = re.compile(r"[^\W\d][\w.-]*\Z")


@dataclass(frozen=True)
class Value:
    """A literal: ``kind`` says how it was written (a bare word prints unquoted)."""

    value: str | float | bool
    kind: Literal["string", "number", "bool", "word"] = "string"


@dataclass(frozen=True)
class Compare:
    attr: str
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    value: Value
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Range:
    attr: str
    low: Value
    high: Value
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class In:
    attr: str
    values: tuple[Value, ...]
    negated: bool = False
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Exists:
    attr: str
    negated: bool = False
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


Expr = Or | And | Not | Compare | Range | In | Exists
Condition = Compare | Range | In | Exists


@dataclass(frozen=True)
class _Tok:
    kind: str  # num op punct str word end
    text: str
    col: int

    @property
    def keyword(self) -> str | None:
        return self.text.casefold() if self.kind == "word" and self.text.casefold() in _KEYWORDS else None


def _fail(message: str, column: int) -> SearchParameterError:
    return SearchParameterError(message, "filter", column)


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            if ch in "\"'":
                raise _fail(f"the string opened here with {ch} is not closed: end it with {ch}", pos + 1)
            raise _fail(f"unexpected character {ch!r}: use AND, OR, NOT, parentheses, = != < <= > >=, IN [..], "
                        "TO or EXISTS", pos + 1)
        kind = m.lastgroup or "ws"
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos + 1))
        pos = m.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def _found(self, tok: _Tok) -> str:
        return "the end of the expression" if tok.kind == "end" else repr(tok.text)

    def expect(self, text: str, what: str) -> _Tok:
        tok = self.take()
        if tok.text != text:
            raise _fail(f"expected {what}, found {self._found(tok)}", tok.col)
        return tok

    def parse(self) -> Expr:
        if self.peek().kind == "end":
            raise _fail("the filter is empty: write a condition such as brand = \"Gardena\", or leave filter out", 1)
        expr = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            hint = "an unopened ')'" if tok.text == ")" else f"{self._found(tok)}: join conditions with AND or OR"
            raise _fail(f"unexpected {hint}", tok.col)
        return expr

    def or_(self) -> Expr:
        items = [self.and_()]
        while self.peek().keyword == "or":
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Expr:
        items = [self.not_()]
        while self.peek().keyword == "and":
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else And(tuple(items))

    def nested(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(f"the filter nests deeper than {MAX_DEPTH} levels: simplify it", tok.col)

    def not_(self) -> Expr:
        tok = self.peek()
        if tok.keyword == "not":
            self.take()
            self.nested(tok)
            inner = self.not_()
            self.depth -= 1
            return Not(inner)
        return self.primary()

    def primary(self) -> Expr:
        tok = self.peek()
        if tok.text == "(" and tok.kind == "punct":
            self.take()
            self.nested(tok)
            expr = self.or_()
            self.depth -= 1
            close = self.take()
            if close.text != ")":
                raise _fail(f"expected ')' to close the '(' of column {tok.col}, found {self._found(close)}", close.col)
            return expr
        return self.condition()

    def condition(self) -> Condition:
        tok = self.take()
        if tok.kind == "str":
            attr = _unquote(tok.text)
        elif tok.kind == "word" and tok.keyword is None:
            attr = tok.text
        else:
            raise _fail(f"expected an attribute name (such as brand or price), found {self._found(tok)}", tok.col)
        nxt = self.peek()
        if nxt.kind == "op":
            self.take()
            return Compare(attr, nxt.text, self.value(f"a value after {nxt.text!r}"), tok.col)  # type: ignore[arg-type]
        negated = nxt.keyword == "not"
        if negated:
            self.take()
            nxt = self.peek()
        if nxt.keyword == "exists":
            self.take()
            return Exists(attr, negated, tok.col)
        if nxt.keyword == "in":
            self.take()
            return In(attr, self.values(), negated, tok.col)
        if negated:
            raise _fail(f"expected IN or EXISTS after NOT, found {self._found(nxt)}", nxt.col)
        if nxt.kind in ("num", "str") or (nxt.kind == "word" and nxt.keyword in (None, "true", "false")):
            low = self.value("a value")
            to = self.take()
            if to.keyword != "to":
                raise _fail(f"expected TO after {attr} {to_text_value(low)} (a range: {attr} 10 TO 50), "
                            f"found {self._found(to)}", to.col)
            return Range(attr, low, self.value("a value after TO"), tok.col)
        raise _fail(f"expected an operator after {attr!r} (= != < <= > >=, IN, TO, EXISTS), found {self._found(nxt)}",
                    nxt.col)

    def value(self, what: str) -> Value:
        tok = self.take()
        if tok.kind == "num":
            return Value(float(tok.text), "number")
        if tok.kind == "str":
            return Value(_unquote(tok.text), "string")
        if tok.kind == "word" and tok.keyword in ("true", "false"):
            return Value(tok.keyword == "true", "bool")
        if tok.kind == "word" and tok.keyword is None:
            return Value(tok.text, "word")
        raise _fail(f"expected {what}, found {self._found(tok)}", tok.col)

    def values(self) -> tuple[Value, ...]:
        self.expect("[", "'[' to open the list of IN")
        out = [self.value("a value in the list")]
        while self.peek().text == ",":
            self.take()
            out.append(self.value("a value after ','"))
        close = self.take()
        if close.text != "]":
            raise _fail(f"expected ',' or ']' to close the list, found {self._found(close)}", close.col)
        return tuple(out)


def parse(text: str) -> Expr:
    """The tree of a filter expression (``SearchParameterError`` with the column of the first problem)."""
    return _Parser(text).parse()


# ---------------------------------------------------------------------- printing
def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_text_value(v: Value) -> str:
    if v.kind == "bool":
        return "true" if v.value else "false"
    if v.kind == "number":
        return repr(float(v.value))
    if v.kind == "word" and isinstance(v.value, str) and _IDENT.match(v.value) and v.value.casefold() not in _KEYWORDS:
        return v.value
    return _quote(str(v.value))


def _attr(name: str) -> str:
    return name if _IDENT.match(name) and name.casefold() not in _KEYWORDS else _quote(name)


def to_text(expr: Expr) -> str:
    """The expression written out (parenthesised where the grammar needs it): ``parse`` reads it back equal."""
    if isinstance(expr, Or | And):
        sep = " OR " if isinstance(expr, Or) else " AND "
        return sep.join(f"({to_text(e)})" if isinstance(e, Or | And) else to_text(e) for e in expr.items)
    if isinstance(expr, Not):
        inner = to_text(expr.expr)
        return f"NOT ({inner})" if isinstance(expr.expr, Or | And) else f"NOT {inner}"
    if isinstance(expr, Compare):
        return f"{_attr(expr.attr)} {expr.op} {to_text_value(expr.value)}"
    if isinstance(expr, Range):
        return f"{_attr(expr.attr)} {to_text_value(expr.low)} TO {to_text_value(expr.high)}"
    if isinstance(expr, In):
        neg = "NOT " if expr.negated else ""
        return f"{_attr(expr.attr)} {neg}IN [{', '.join(to_text_value(v) for v in expr.values)}]"
    return f"{_attr(expr.attr)} {'NOT ' if expr.negated else ''}EXISTS"


# ---------------------------------------------------------------------- checking and evaluating
def _conditions(expr: Expr) -> list[Condition]:
    if isinstance(expr, Or | And):
        return [c for e in expr.items for c in _conditions(e)]
    if isinstance(expr, Not):
        return _conditions(expr.expr)
    return [expr]


def attributes_of(expr: Expr) -> set[str]:
    """The attribute names an expression reads."""
    return {c.attr for c in _conditions(expr)}


def _number(v: Value, cond: Condition, what: str) -> float:
    n = value_number(v.value)
    if math.isnan(n):
        raise _fail(f"{cond.attr} {what} needs a number, not {to_text_value(v)}", cond.column)
    return n


def check(expr: Expr, known: Collection[str]) -> None:
    """Every attribute is one of ``known`` and every comparison has a number (raises with the column)."""
    for c in _conditions(expr):
        if c.attr not in known:
            close = difflib.get_close_matches(c.attr, list(known), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"known attributes: {', '.join(sorted(known)[:30])}"
            raise _fail(f"unknown attribute {c.attr!r}: {hint}", c.column)
        if isinstance(c, Compare) and c.op not in ("=", "!="):
            _number(c.value, c, c.op)
        if isinstance(c, Range):
            lo, hi = _number(c.low, c, "TO"), _number(c.high, c, "TO")
            if lo > hi:
                raise _fail(f"the range {to_text_value(c.low)} TO {to_text_value(c.high)} is empty: write the lower "
                            "bound first", c.column)


def evaluate(expr: Expr, table: AttributeTable, capacity: int) -> np.ndarray:
    """``(capacity,) bool``: the slots whose values meet ``expr`` (run :func:`check` first)."""
    if isinstance(expr, And):
        out = evaluate(expr.items[0], table, capacity)
        for e in expr.items[1:]:
            out &= evaluate(e, table, capacity)
        return out
    if isinstance(expr, Or):
        out = evaluate(expr.items[0], table, capacity)
        for e in expr.items[1:]:
            out |= evaluate(e, table, capacity)
        return out
    if isinstance(expr, Not):
        return ~evaluate(expr.expr, table, capacity)
    col = table.column(expr.attr, capacity)
    if isinstance(expr, Exists):
        m = col.mask(np.ones(len(col.owner), dtype=bool))
        return ~m if expr.negated else m
    if isinstance(expr, In):
        codes = [c for c in (col.codes.get(value_key(v.value)) for v in expr.values) if c is not None]
        m = col.mask(np.isin(col.code, codes))
        return ~m if expr.negated else m
    if isinstance(expr, Range):
        lo, hi = _number(expr.low, expr, "TO"), _number(expr.high, expr, "TO")
        with np.errstate(invalid="ignore"):
            return col.mask((col.number >= lo) & (col.number <= hi))
    if expr.op in ("=", "!="):
        code = col.codes.get(value_key(expr.value.value))
        m = col.mask(col.code == code) if code is not None else np.zeros(capacity, dtype=bool)
        return ~m if expr.op == "!=" else m
    n = _number(expr.value, expr, expr.op)
    with np.errstate(invalid="ignore"):
        rows = {"<": col.number < n, "<=": col.number <= n, ">": col.number > n, ">=": col.number >= n}[expr.op]
    return col.mask(rows)
