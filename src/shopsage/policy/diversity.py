"""Diversity of a ranked list: category caps and maximal marginal relevance (MMR).

Both take a ranked candidate list and return the indexes of the ``n`` items to show, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["category_cap", "mmr"]


def category_cap(categories: Sequence[str | None], n: int, max_per_category: int) -> tuple[list[int], list[int]]:
    """Keep the ranked order but at most ``max_per_category`` items per category (``None`` = uncapped);
    returns ``(kept indexes, indexes skipped by the cap)``. Skipped items fill the list only when
    there are fewer than ``n`` others."""
    kept: list[int] = []
    skipped: list[int] = []
    counts: dict[str, int] = {}
    for i, c in enumerate(categories):
        if len(kept) >= n:
            break
        if c is not None and counts.get(c, 0) >= max_per_category:
            skipped.append(i)
            continue
        if c is not None:
            counts[c] = counts.get(c, 0) + 1
        kept.append(i)
    if len(kept) < n:
        fill = skipped[: n - len(kept)]
        kept.extend(fill)
        skipped = skipped[len(fill):]
    return kept, skipped


def mmr(scores: np.ndarray, similarity: Callable[[int, int], float], n: int, lam: float = 0.7) -> list[int]:
    """Greedy MMR (Carbonell & Goldstein 1998): pick ``argmax lam * rel - (1 - lam) * max sim to picked``.

    ``scores`` are relevances (rescaled to 0..1 here); ``similarity(i, j)`` compares candidates."""
    m = len(scores)
    if m == 0:
        return []
    s = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(s)
    lo, hi = (s[finite].min(), s[finite].max()) if finite.any() else (0.0, 1.0)
    rel = np.where(finite, (s - lo) / (hi - lo) if hi > lo else 1.0, 0.0)
    picked: list[int] = []
    max_sim = np.zeros(m)
    left = np.ones(m, dtype=bool)
    for _ in range(min(n, m)):
        gain = np.where(left, lam * rel - (1 - lam) * max_sim, -np.inf)
        best = int(np.argmax(gain))
        picked.append(best)
        left[best] = False
        for j in np.flatnonzero(left):
            max_sim[j] = max(max_sim[j], similarity(best, int(j)))
    return picked
