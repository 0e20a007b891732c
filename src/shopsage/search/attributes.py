"""Every item attribute as a column: what filter expressions, per-request facets and sorts read.

A shop's items carry a few built-in fields (``id``, ``title``, ``brand``, ``category``, ``price``,
``currency``, ``stock``, ``available``, ``in_stock``) and any number of their own in ``attributes``
(``color``, ``rating``, ``material``...). :class:`AttributeTable` keeps each live item's values and
builds, on first use after a change, one :class:`Column` per attribute: flat arrays of
``(owner slot, equality code, number)``, one entry per value (``category`` has one per level of the
path), so a condition is one vectorised comparison and a scatter into a ``(capacity,)`` mask.

Values compare by :func:`value_key`: case-insensitively, numbers by value whatever their spelling
(``"50"``, ``50`` and ``50.0`` are equal), booleans as ``true``/``false``. Only numbers (numeric
strings included, booleans not) take part in ``<``, ``>`` and ranges. A built-in name wins over an
``attributes`` key of the same name.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from shopsage.data.rows import ItemRow

__all__ = ["AttributeTable", "Column", "BUILTIN_ATTRIBUTES", "value_key", "value_number"]

BUILTIN_ATTRIBUTES = ("id", "title", "brand", "category", "price", "currency", "stock", "available", "in_stock")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")

Scalar = str | int | float | bool


def value_number(value: object) -> float:
    """The number a value stands for (``nan`` for booleans, text that is not a number, non-finite numbers)."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, int | float):
        try:
            f = float(value)
        except OverflowError:  # an int beyond the float range
            return math.nan
        return f if math.isfinite(f) else math.nan
    if isinstance(value, str):
        s = value.strip()
        if _NUMBER.match(s):
            f = float(s)
            return f if math.isfinite(f) else math.nan
    return math.nan


def value_key(value: Scalar) -> str:
    """What equality compares: ``true``/``false``, a number's canonical spelling, or the case-folded text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    n = value_number(value)
    if not math.isnan(n):
        return repr(n + 0.0)  # -0.0 and 0.0 are one value
    return " ".join(str(value).casefold().split())


def item_values(row: ItemRow) -> dict[str, tuple[Scalar, ...]]:
    """Every attribute of one item with its values (absent attributes are left out)."""
    out: dict[str, tuple[Scalar, ...]] = {}
    for key, v in (row.attributes or {}).items():
        if isinstance(v, list | tuple):
            vals = tuple(x for x in v if isinstance(x, str | int | float) and x is not None)
        else:
            vals = (v,) if isinstance(v, str | int | float) else ()
        if vals:
            out[str(key)] = vals
    builtin: dict[str, tuple[Scalar, ...]] = {
        "id": (row.ext_id,), "title": (row.title,) if row.title else (), "brand": (row.brand,) if row.brand else (),
        "category": tuple(row.category_path), "price": (row.price,) if row.price is not None else (),
        "currency": (row.currency,) if row.currency else (), "stock": (row.stock,) if row.stock is not None else (),
        "available": (bool(row.available),),
        "in_stock": (bool(row.available) and (row.stock is None or row.stock > 0),)}
    for key, vals in builtin.items():
        out.pop(key, None)
        if vals:
            out[key] = vals
    return out


@dataclass
class Column:
    """One attribute over the catalogue: a row per (item, distinct value)."""

    name: str
    owner: np.ndarray  # (m,) int64 slot of each value
    code: np.ndarray  # (m,) int32 code of value_key
    number: np.ndarray  # (m,) float64, nan where the value is not a number
    codes: dict[str, int]  # value_key -> code
    labels: list[str]  # code -> the value as first written
    capacity: int

    def mask(self, rows: np.ndarray) -> np.ndarray:
        """``(capacity,) bool``: items owning at least one of the value rows ``rows`` (bool over rows)."""
        out = np.zeros(self.capacity, dtype=bool)
        out[self.owner[rows]] = True
        return out

    @property
    def numeric(self) -> bool:
        """Whether every value is a number (a numeric facet, a numeric sort)."""
        return bool(len(self.number)) and not bool(np.isnan(self.number).any())

    def sort_key(self) -> np.ndarray:
        """``(capacity,) float64``: the item's first value as a number, or the rank of its text among the
        column's values (numbers first) when some values are text; ``nan`` for items without one."""
        out = np.full(self.capacity, np.nan)
        if not len(self.owner):
            return out
        first_slots, first = np.unique(self.owner, return_index=True)  # each item's first value
        if self.numeric:
            out[first_slots] = self.number[first]
            return out
        order = sorted(range(len(self.labels)), key=lambda c: (math.isnan(value_number(self.labels[c])),
                                                               value_number(self.labels[c]), self.labels[c].casefold()))
        rank = np.empty(len(self.labels), np.float64)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=np.float64)
        out[first_slots] = rank[self.code[first]]
        return out


class AttributeTable:
    """Each slot's attribute values, and their columns built on first use, then patched: a change
    marks its slots in every built column, whose rows for those slots are redone on the next use
    (an item update costs its own values, not the catalogue's)."""

    def __init__(self) -> None:
        self._values: list[dict[str, tuple[Scalar, ...]]] = []
        self._counts: Counter[str] = Counter()  # attribute -> items having it
        self._columns: dict[str, Column] = {}
        self._pending: dict[str, set[int]] = {}  # column -> slots changed since it was built
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return len(self._values)

    def names(self) -> list[str]:
        """The built-in attributes, then every other attribute some item has."""
        present = {k for k, c in self._counts.items() if c > 0}
        return list(BUILTIN_ATTRIBUTES) + sorted(present - set(BUILTIN_ATTRIBUTES))

    def has(self, name: str) -> bool:
        return name in BUILTIN_ATTRIBUTES or self._counts.get(name, 0) > 0

    def set(self, slots: Iterable[int], rows: Iterable[ItemRow]) -> None:
        """Record the values of ``rows`` at ``slots`` (replacing what the slots held)."""
        with self._lock:
            changed = []
            for s, row in zip(slots, rows, strict=True):
                s = int(s)
                self._grow(s + 1)
                self._counts.subtract(self._values[s].keys())
                self._values[s] = item_values(row)
                self._counts.update(self._values[s].keys())
                changed.append(s)
            self._mark(changed)

    def clear(self, slots: Iterable[int]) -> None:
        """Forget the values of deleted slots."""
        with self._lock:
            changed = []
            for s in slots:
                if 0 <= s < len(self._values):
                    self._counts.subtract(self._values[s].keys())
                    self._values[s] = {}
                    changed.append(int(s))
            self._mark(changed)

    def _mark(self, slots: list[int]) -> None:
        if len(slots) * 4 > len(self._values):  # a bulk change: build again on first use
            self._columns, self._pending = {}, {}
            return
        for pending in self._pending.values():
            pending.update(slots)

    def _grow(self, n: int) -> None:
        if n > len(self._values):
            self._values.extend({} for _ in range(n - len(self._values)))

    def values(self, slot: int) -> dict[str, tuple[Scalar, ...]]:
        return self._values[slot] if 0 <= slot < len(self._values) else {}

    def column(self, name: str, capacity: int | None = None) -> Column:
        """The column of ``name`` over ``capacity`` slots (default: the table's)."""
        cap = max(self.capacity, capacity or 0)
        col = self._columns.get(name)
        if col is not None and col.capacity == cap and not self._pending.get(name):
            return col
        with self._lock:
            col = self._columns.get(name)
            pending = self._pending.get(name)
            if col is None:
                col = _build(name, self._values, range(len(self._values)), cap)
            elif pending or col.capacity != cap:
                col = _patch(col, self._values, sorted(pending or ()), cap)
            self._columns[name], self._pending[name] = col, set()
        return col

    def to_json(self) -> list[dict[str, list[Any]]]:
        return [{k: list(v) for k, v in d.items()} for d in self._values]

    def load_json(self, data: list[dict[str, list[Any]]]) -> None:
        with self._lock:
            self._values = [{k: tuple(v) for k, v in d.items()} for d in data]
            self._counts = Counter(k for d in self._values for k in d)
            self._columns, self._pending = {}, {}


@lru_cache(maxsize=200_000, typed=True)
def _describe(v: Scalar) -> tuple[str, float, str]:
    """(equality key, number, label as shown) of one value (typed: ``True`` is not ``1``)."""
    label = v if isinstance(v, str) else value_key(v) if isinstance(v, bool) else _number_label(v)
    return value_key(v), value_number(v), label


def _build(name: str, values: list[dict[str, tuple[Scalar, ...]]], slots: Iterable[int], capacity: int,
           codes: dict[str, int] | None = None, labels: list[str] | None = None) -> Column:
    """The rows of ``slots`` (``codes``/``labels``: a column's to extend, shared with it)."""
    owner: list[int] = []
    code: list[int] = []
    number: list[float] = []
    codes = {} if codes is None else codes
    labels = [] if labels is None else labels
    for slot in slots:
        vals = values[slot].get(name)
        if not vals:
            continue
        seen: set[int] = set()
        for v in vals:
            key, num, label = _describe(v)
            c = codes.get(key)
            if c is None:
                c = codes[key] = len(labels)
                labels.append(label)
            if c in seen:
                continue
            seen.add(c)
            owner.append(slot)
            code.append(c)
            number.append(num)
    return Column(name, np.asarray(owner, dtype=np.int64), np.asarray(code, dtype=np.int32),
                  np.asarray(number, dtype=np.float64), codes, labels, capacity)


def _patch(col: Column, values: list[dict[str, tuple[Scalar, ...]]], slots: list[int], capacity: int) -> Column:
    """``col`` with the rows of ``slots`` redone, ordered by slot (a new column; readers keep the old one)."""
    if not slots:
        return Column(col.name, col.owner, col.code, col.number, col.codes, col.labels, capacity)
    keep = ~np.isin(col.owner, np.asarray(slots, dtype=np.int64))
    new = _build(col.name, values, slots, capacity, col.codes, col.labels)
    owner = np.concatenate([col.owner[keep], new.owner])
    order = np.argsort(owner, kind="stable")  # an item's values stay in their order (its first value first)
    return Column(col.name, owner[order], np.concatenate([col.code[keep], new.code])[order],
                  np.concatenate([col.number[keep], new.number])[order], col.codes, col.labels, capacity)


def _number_label(v: int | float) -> str:
    f = value_number(v)
    if math.isnan(f):
        return str(v)
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)
