"""A shop's publishable activity report: differentially private counts of shoppers per event type
and per top-level category (``shopsage privacy report``).

Each count is the number of distinct shoppers (users, else sessions) who had an interaction of that
type, or with an item of that category; a shopper counts toward at most ``max_contributions`` keys
of each table (their latest), once each, so the report is ``epsilon``-DP at the shop's budget
(:mod:`shopsage.privacy.dp`), half of the release's epsilon per table. Both key sets are public (the
event types; the catalogue's categories), so every key is reported, however small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shopsage.data.stores.base import TYPE_CODES, StoreReader
from shopsage.privacy.dp import PrivacyLedger, clamped_counts, dp_counts, laplace_scale
from shopsage.training.data import owner_groups

__all__ = ["ActivityReport", "activity_report"]

_TYPES = list(TYPE_CODES)


@dataclass
class ActivityReport:
    """Noisy shopper counts per event type and per top-level category, and the release behind them."""

    by_type: dict[str, int]
    by_category: dict[str, int]
    epsilon: float
    noise_scale: float
    max_contributions: int
    released_at: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def activity_report(store: StoreReader, ledger: PrivacyLedger, epsilon: float | None = None) -> ActivityReport:
    """Spend ``epsilon`` (default: the budget's per release) from ``ledger`` and release the report."""
    b = ledger.budget
    eps = b.epsilon_per_release if epsilon is None else epsilon
    k = b.max_contributions
    inter = store.interactions()
    owners = owner_groups(inter)
    category_of = {rid: row.category_path[0] if row.category_path else "(none)" for rid, row in store.items()}
    categories = sorted(set(category_of.values()))
    cat_code = {c: i for i, c in enumerate(categories)}
    lut = np.full(int(inter.item.max(initial=-1)) + 1, -1, np.int64)
    for rid, cat in category_of.items():
        if rid < len(lut):
            lut[rid] = cat_code[cat]
    item_cat = np.where(inter.item >= 0, lut[np.maximum(inter.item, 0)] if len(lut) else -1, -1)
    release = ledger.spend("activity report", eps, 0.0, mechanism="discrete laplace (OpenDP make_laplace)",
                           max_contributions=k, tables=["shoppers by event type", "shoppers by category"],
                           scale=laplace_scale(eps / 2, k))
    by_type = dp_counts(clamped_counts(owners, inter.type.astype(np.int64), k, len(_TYPES)), eps / 2, k)
    by_cat = dp_counts(clamped_counts(owners, item_cat, k, len(categories)), eps / 2, k) if categories else []
    return ActivityReport({t: max(0, int(v)) for t, v in zip(_TYPES, by_type, strict=True)},
                          {c: max(0, int(v)) for c, v in zip(categories, by_cat, strict=True)},
                          eps, laplace_scale(eps / 2, k), k, release.at)
