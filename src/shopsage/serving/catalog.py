"""The serving catalogue: the search engine's item slots plus the full rows the API returns.

One slot space serves search, candidate generators and business rules, so their
:class:`~shopsage.types.ScoredItems` compose. Upserts and deletes are applied to the engine at
once (effective on the next request); deleted items keep their slot but stop being live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from shopsage.data.rows import ItemRow
from shopsage.profiles import ItemInfo
from shopsage.search import SearchEngine

__all__ = ["ServingCatalog"]


def _displayable(r: ItemRow) -> bool:
    """A stub (an id that events named before the catalogue described it) is never shown."""
    return bool(r.title or r.description or r.category_path or r.brand) or r.price is not None


class ServingCatalog:
    """Item rows by slot, indexed for search, with the masks rules need."""

    def __init__(self, engine: SearchEngine | None = None) -> None:
        self.engine = engine if engine is not None else SearchEngine()
        self.rows: list[ItemRow | None] = [None] * self.engine.capacity
        self.visible = np.zeros(self.engine.capacity, dtype=bool)  # live and not hidden
        self.stock: Callable[[ItemRow | None], Any] | None = None
        """The service's stock facts (:class:`shopsage.forecast.stock.StockFacts`.of) for rules on stock and margin."""

    @property
    def capacity(self) -> int:
        return self.engine.capacity

    def __len__(self) -> int:
        return self.engine.n_items

    def upsert(self, rows: Sequence[ItemRow]) -> np.ndarray:
        slots = self.engine.index(rows)
        if len(self.rows) < self.capacity:
            self.rows.extend([None] * (self.capacity - len(self.rows)))
            self.visible = np.concatenate([self.visible, np.zeros(self.capacity - len(self.visible), bool)])
        for s, r in zip(slots.tolist(), rows, strict=True):
            self.rows[s] = r
            self.visible[s] = r.available and _displayable(r)
        return slots

    def delete(self, ext_ids: Sequence[str]) -> None:
        slots = [self.slot(e) for e in ext_ids]
        self.engine.delete(ext_ids)
        for s in slots:
            if s is not None:
                self.rows[s] = None
                self.visible[s] = False

    def slot(self, ext_id: str) -> int | None:
        return self.engine.slot(ext_id)

    def slots(self, ext_ids: Iterable[str]) -> list[int]:
        return [s for s in (self.slot(e) for e in ext_ids) if s is not None]

    def ext(self, slot: int) -> str:
        return self.engine.ext(slot)

    def row(self, slot: int) -> ItemRow | None:
        return self.rows[slot] if 0 <= slot < len(self.rows) else None

    def title(self, slot: int) -> str:
        r = self.row(slot)
        return (r.title if r and r.title else self.ext(slot))

    def category(self, slot: int) -> str | None:
        """The leaf category of an item (None when it has none)."""
        r = self.row(slot)
        return r.category_path[-1] if r and r.category_path else None

    def category_path(self, slot: int) -> tuple[str, ...]:
        r = self.row(slot)
        return tuple(r.category_path) if r else ()

    def brand(self, slot: int) -> str | None:
        r = self.row(slot)
        return r.brand if r else None

    def stock_fact(self, slot: int) -> Any:
        """The item's stock and margin fact (``stockout_risk`` and ``min_margin`` rules); None without a table."""
        return None if self.stock is None else self.stock(self.row(slot))

    def info(self, ext_id: str) -> ItemInfo | None:
        """What a profile reads of an item; None when the catalogue does not hold it."""
        s = self.slot(ext_id)
        r = self.row(s) if s is not None else None
        return None if r is None else ItemInfo(tuple(r.category_path), r.brand, r.price)

    def terms(self, text: str) -> set[str]:
        """The index terms of a text (stemmed as the lexical index stems)."""
        return self.engine.terms(text)

    def matched_words(self, query: str, slot: int) -> list[str]:
        """The item's own words matching the words of ``query``, as its text writes them (see
        ``SearchEngine.matched_words``)."""
        return self.engine.matched_words(query, slot) if self.row(slot) is not None else []

    @property
    def live(self) -> np.ndarray:
        return self.engine.live

    @property
    def in_stock(self) -> np.ndarray:
        """Live, available and with stock unknown or above zero."""
        return self.engine.in_stock

    @property
    def leaf(self) -> np.ndarray:
        return self.engine.leaf

    def view(self, slot: int) -> dict[str, Any]:
        """What the API shows of one item."""
        r = self.rows[slot]
        assert r is not None, slot
        return {"id": r.ext_id, "title": r.title, "brand": r.brand, "category_path": list(r.category_path),
                "price": r.price, "currency": r.currency, "stock": r.stock, "available": r.available}
