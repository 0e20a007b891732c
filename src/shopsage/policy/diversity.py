"""Diversity of a ranked list: category caps and maximal marginal relevance (MMR).

Both take a ranked candidate list and return the indexes of the ``n`` items to show, in order.
``tiers`` (one int per candidate, ranked lists come sorted by it) are bounds diversity must not
cross: every item of a lower tier is placed before any item of a higher one (merchant rules bury
items into tier 1), and diversity reorders only within a tier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["category_cap", "mmr"]


def _tiers(tiers: Sequence[int] | None, m: int) -> np.ndarray:
    t = np.zeros(m, dtype=np.int64) if tiers is None else np.asarray(tiers, dtype=np.int64)
    if len(t) != m:
        raise ValueError(f"tiers has {len(t)} entries for {m} candidates: give one tier per candidate")
    return t


def category_cap(categories: Sequence[str | None], n: int, max_per_category: int,
                 tiers: Sequence[int] | None = None) -> tuple[list[int], list[int]]:
    """Keep the ranked order but at most ``max_per_category`` items per category (``None`` = uncapped);
    returns ``(kept indexes, indexes skipped by the cap)``. Skipped items fill the list only when
    there are fewer than ``n`` others of their tier and the tiers before it; counts run across tiers."""
    t = _tiers(tiers, len(categories))
    kept: list[int] = []
    skipped: list[int] = []
    counts: dict[str, int] = {}
    for tier in np.unique(t).tolist():
        tier_skipped: list[int] = []
        for i in np.flatnonzero(t == tier).tolist():
            if len(kept) >= n:
                break
            c = categories[i]
            if c is not None and counts.get(c, 0) >= max_per_category:
                tier_skipped.append(i)
                continue
            if c is not None:
                counts[c] = counts.get(c, 0) + 1
            kept.append(i)
        fill = tier_skipped[: max(n - len(kept), 0)]
        for i in fill:
            c = categories[i]
            if c is not None:
                counts[c] = counts.get(c, 0) + 1
        kept.extend(fill)
        skipped.extend(tier_skipped[len(fill):])
        if len(kept) >= n:
            break
    return kept, skipped


def mmr(scores: np.ndarray, similarity: Callable[[int, int], float], n: int, lam: float = 0.7,
        tiers: Sequence[int] | None = None) -> list[int]:
    """Greedy MMR (Carbonell & Goldstein 1998): pick ``argmax lam * rel - (1 - lam) * max sim to picked``
    among the candidates of the lowest tier left.

    ``scores`` are relevances (rescaled to 0..1 here); ``similarity(i, j)`` compares candidates."""
    m = len(scores)
    if m == 0:
        return []
    t = _tiers(tiers, m)
    s = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(s)
    lo, hi = (s[finite].min(), s[finite].max()) if finite.any() else (0.0, 1.0)
    rel = np.where(finite, (s - lo) / (hi - lo) if hi > lo else 1.0, 0.0)
    picked: list[int] = []
    max_sim = np.zeros(m)
    left = np.ones(m, dtype=bool)
    for _ in range(min(n, m)):
        tier = t[left].min()
        gain = np.where(left & (t == tier), lam * rel - (1 - lam) * max_sim, -np.inf)
        best = int(np.argmax(gain))
        picked.append(best)
        left[best] = False
        for j in np.flatnonzero(left):
            max_sim[j] = max(max_sim[j], similarity(best, int(j)))
    return picked
