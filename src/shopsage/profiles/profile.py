"""A shopper's profile from their recent interactions: recent items, top categories and brands, price band.

Interactions weigh by type (a purchase says more than a view); categories count every level of
an item's path. Nothing here stores personal data: only item ids and aggregates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Profile", "ItemInfo", "build_profile", "EVENT_WEIGHTS"]

EVENT_WEIGHTS: dict[str, float] = {"impression": 0.0, "view": 1.0, "click": 1.0, "search": 0.0, "rating": 1.5,
                                   "add_to_cart": 2.0, "purchase": 3.0}
"""How much one interaction of each type counts towards categories, brands and the price band."""


@dataclass(frozen=True)
class ItemInfo:
    """What a profile reads of an item."""

    category_path: tuple[str, ...] = ()
    brand: str | None = None
    price: float | None = None


@dataclass
class Profile:
    recent_items: list[str] = field(default_factory=list)  # newest first, distinct
    top_categories: list[tuple[str, float]] = field(default_factory=list)
    top_brands: list[tuple[str, float]] = field(default_factory=list)
    price_band: dict[str, float] | None = None  # p25 / median / p75 of interacted prices, weighted
    interactions: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"recent_items": self.recent_items,
                "top_categories": [{"name": c, "weight": round(w, 3)} for c, w in self.top_categories],
                "top_brands": [{"name": b, "weight": round(w, 3)} for b, w in self.top_brands],
                "price_band": self.price_band, "interactions": self.interactions}


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> list[float]:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w) / w.sum()
    return [float(v[min(int(np.searchsorted(cum, q, side="left")), len(v) - 1)]) for q in qs]


def build_profile(touches: Sequence[tuple[str, str]], info: Callable[[str], ItemInfo | None],
                  top: int = 5, recent: int = 20) -> Profile:
    """``touches``: ``(item id, event type)`` newest first; ``info`` describes an item (None = unknown)."""
    recent_items: list[str] = []
    seen: set[str] = set()
    cats: dict[str, float] = {}
    brands: dict[str, float] = {}
    prices: list[float] = []
    pweights: list[float] = []
    for item, typ in touches:
        if item not in seen:
            seen.add(item)
            if len(recent_items) < recent:
                recent_items.append(item)
        w = EVENT_WEIGHTS.get(typ, 1.0)
        it = info(item)
        if it is None or w == 0:
            continue
        for c in dict.fromkeys(it.category_path):
            cats[c] = cats.get(c, 0.0) + w
        if it.brand:
            brands[it.brand] = brands.get(it.brand, 0.0) + w
        if it.price is not None and np.isfinite(it.price):
            prices.append(float(it.price))
            pweights.append(w)
    band = None
    if prices:
        p25, med, p75 = _weighted_quantiles(np.array(prices), np.array(pweights), (0.25, 0.5, 0.75))
        band = {"p25": p25, "median": med, "p75": p75, "min": min(prices), "max": max(prices)}
    return Profile(recent_items, _top(cats, top), _top(brands, top), band, len(touches))


def _top(weights: dict[str, float], k: int) -> list[tuple[str, float]]:
    return sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
