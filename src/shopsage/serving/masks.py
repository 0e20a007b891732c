"""Which items a scenario may show a shopper: the mask of its ``exclude`` list, per request.

:class:`Masks` caches the catalogue-wide part of each exclusion set (live, visible, in stock) per
catalogue version and adds the shopper's own exclusions (purchases, history, the page's item) to a
fresh copy per request. Every catalogue change calls :meth:`Masks.changed`, which bumps the version
and drops the cached masks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.generators import Shopper

__all__ = ["Masks"]


class Masks:
    """Which slots a scenario may show a shopper (its ``exclude`` list), cached per catalogue version."""

    def __init__(self, catalog: ServingCatalog) -> None:
        self.catalog = catalog
        self.version = 0  # bumped by every catalogue change
        self._cache: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}

    def changed(self) -> None:
        """The catalogue changed: a new version, and the cached masks are stale."""
        self.version += 1
        self._cache.clear()

    def base(self, exclude: tuple[str, ...]) -> np.ndarray:
        """The catalogue-wide part (live, visible, in stock) of ``exclude``; shared, never modify it."""
        key = (self.version, exclude)
        m = self._cache.get(key)
        if m is None:
            m = self.catalog.visible.copy() if "hidden" in exclude else self.catalog.live.copy()
            m &= self.catalog.live
            if "out_of_stock" in exclude:
                m &= self.catalog.in_stock
            self._cache[key] = m
        return m

    def allowed(self, exclude: Sequence[str], sh: Shopper) -> np.ndarray:
        """A fresh mask: the base one less the shopper's purchases, history and the page's item as asked."""
        m = self.base(tuple(sorted(exclude))).copy()
        if "purchased" in exclude and sh.purchased:
            m[list(sh.purchased)] = False
        if "seen" in exclude:
            seen = [s for s, _ in sh.user_history] + [s for s, _ in sh.session_history]
            if seen:
                m[seen] = False
        if "source_item" in exclude and sh.item is not None:
            m[sh.item] = False
        return m
