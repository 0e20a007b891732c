"""Sorts of a result list: ``relevance``, the older ``price_asc``/``price_desc``/``popularity``, or
``field:asc|desc`` keys on any sortable attribute (``sort=rating:desc,price:asc``).

:func:`sorted_slots` orders with one ``np.lexsort``: items without a value come after those with one
in either direction, ties keep relevance order, items a rule buried go last and pinned items keep the
places the rules gave them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from shopsage.errors import SearchParameterError

if TYPE_CHECKING:
    from shopsage.policy import Rule
    from shopsage.search.engine import SearchEngine

__all__ = ["LEGACY_SORTS", "sort_spec", "sorted_slots", "fit_length", "MAX_SORT_KEYS"]

LEGACY_SORTS: dict[str, list[tuple[str, bool]]] = {
    "relevance": [], "price_asc": [("price", False)], "price_desc": [("price", True)], "popularity": [("popularity", True)]}
"""The sort values of the first API, as sort keys (``popularity``: behaviour events, not an attribute)."""
MAX_SORT_KEYS = 5
_SORT_KEY = re.compile(r"^\s*([^:,\s][^:,]*?)\s*:\s*(asc|desc)\s*$", re.IGNORECASE)


def sort_spec(sort: str) -> list[tuple[str, bool]]:
    """``[(field, descending)]`` of a ``sort`` parameter, most significant first (raises where it is malformed)."""
    if sort in LEGACY_SORTS:
        return LEGACY_SORTS[sort]
    out: list[tuple[str, bool]] = []
    col = 1
    for part in sort.split(","):
        m = _SORT_KEY.match(part)
        if m is None:
            raise SearchParameterError(f"{part.strip()!r} is not a sort key: write field:asc or field:desc "
                                       "(several comma-separated), or relevance, price_asc, price_desc, popularity",
                                       "sort", col)
        out.append((m.group(1), m.group(2).casefold() == "desc"))
        col += len(part) + 1
    if len(out) > MAX_SORT_KEYS:
        raise SearchParameterError(f"{len(out)} sort keys: sort by at most {MAX_SORT_KEYS}", "sort")
    return out


def fit_length(values: np.ndarray, n: int, fill: object = False) -> np.ndarray:
    """``values`` cut or padded with ``fill`` to length ``n`` (an array sized before the catalogue grew)."""
    values = np.asarray(values)
    out = np.full(n, fill, dtype=values.dtype)
    out[:min(n, len(values))] = values[:n]
    return out


def sorted_slots(engine: SearchEngine, spec: list[tuple[str, bool]], slots: np.ndarray, scores: np.ndarray,
                 touched: dict[int, list[Rule]], popularity: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``slots`` (and their ``scores``) in the order of the sort keys ``spec``; ``touched``: the rules that
    moved each slot; ``popularity``: ``(capacity,)`` behaviour-event counts (``None``: zeros)."""
    cap = engine.catalog.capacity
    pinned = [i for i, s in enumerate(slots.tolist()) if any(r.action == "pin" for r in touched.get(s, []))]
    rest = np.delete(np.arange(len(slots)), pinned)
    keys: list[np.ndarray] = [np.arange(len(rest))]
    for name, desc in reversed(spec):  # np.lexsort: the last key is the primary one
        if name == "popularity":
            pop = np.zeros(cap) if popularity is None else fit_length(popularity, cap, 0.0).astype(np.float64)
            values = pop[slots[rest]]
        else:
            values = fit_length(engine.attributes.column(name, cap).sort_key(), cap, np.nan)[slots[rest]]
        missing = np.isnan(values)
        keys += [np.where(missing, 0.0, -values if desc else values), missing]
    buried = np.array([any(r.action == "bury" for r in touched.get(int(s), [])) for s in slots[rest]], dtype=bool)
    keys.append(buried)
    order = rest[np.lexsort(keys)].tolist()
    for i in pinned:  # pins keep their places (in increasing order, so earlier inserts do not shift later ones)
        order.insert(i, i)
    idx = np.asarray(order, dtype=np.int64)
    return slots[idx], scores[idx]
