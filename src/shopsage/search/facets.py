"""Facet counts chosen per request: value counts of any facetable attribute over a result list.

``brand`` and ``category`` (leaf categories) are counted as the catalogue always counted them; any
other attribute from its column (:mod:`.attributes`) with one ``bincount`` over the rows the result
list owns. Numeric facets also get their range (Meilisearch's ``facetStats``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from shopsage.search.engine import SearchEngine

__all__ = ["facet_counts", "CATALOGUE_FACETS"]

CATALOGUE_FACETS = ("brand", "category")


def facet_counts(engine: SearchEngine, names: Sequence[str], slots: np.ndarray,
                 top: int = 20) -> tuple[dict[str, list[tuple[str, int]]], dict[str, dict[str, float]]]:
    """``(facet -> its top values with counts among slots, numeric facet -> {min, max})``."""
    slots = np.asarray(slots, dtype=np.int64)
    out: dict[str, list[tuple[str, int]]] = {}
    stats: dict[str, dict[str, float]] = {}
    legacy = engine.catalog.facets(slots, top) if any(n in CATALOGUE_FACETS for n in names) else {}
    for name in names:
        if name in legacy:
            out[name] = legacy[name]
            continue
        col = engine.attributes.column(name, engine.catalog.capacity)
        inset = np.zeros(col.capacity, dtype=bool)
        inset[slots[(slots >= 0) & (slots < col.capacity)]] = True
        sel = inset[col.owner]
        counts = np.bincount(col.code[sel], minlength=len(col.labels))
        order = np.lexsort((np.arange(len(counts)), -counts))[:top]
        out[name] = [(col.labels[i], int(counts[i])) for i in order if counts[i] > 0]
        nums = col.number[sel]
        nums = nums[~np.isnan(nums)]
        if col.numeric and len(nums):
            stats[name] = {"min": float(nums.min()), "max": float(nums.max())}
    return out, stats
