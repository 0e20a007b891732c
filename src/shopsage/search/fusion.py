"""Fusion of several ranked lists of the same queries into one (any :class:`ScoredItems`).

- Reciprocal rank fusion (Cormack et al. 2009): ``sum_l w_l / (k + rank_l(d))``, rank from 1.
  Uses ranks only, so it needs no score calibration. :func:`fuse_ranked` is its form for one
  query's id lists of any lengths (the serving scenarios' candidate generators), and
  :func:`rrf_term` the one contribution formula (reasons quote it).
- Weighted score fusion: each list's scores are min-max normalized per query to [0, 1], then
  ``sum_l w_l * s_l(d)``; an item missing from a list gets 0 from it.

Items are ordered by fused score, ties by the smaller id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopsage.errors import ValidationError
from shopsage.types import PAD_ID, ScoredItems

__all__ = ["reciprocal_rank_fusion", "weighted_fusion", "fuse_ranked", "rrf_term"]


def _weights(n_lists: int, weights: Sequence[float] | None) -> np.ndarray:
    w = np.ones(n_lists) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(w) != n_lists:
        raise ValidationError(f"{len(w)} weights for {n_lists} lists: give one weight per list.")
    return w


def _check(lists: Sequence[ScoredItems], weights: Sequence[float] | None) -> np.ndarray:
    if not lists:
        raise ValidationError("fusion needs at least one result list.")
    if len({len(x) for x in lists}) != 1:
        raise ValidationError(f"result lists have different batch sizes {[len(x) for x in lists]}: fuse lists of the same queries.")
    return _weights(len(lists), weights)


def _combine(ids: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct id of ``ids`` (padding skipped) with the sum of its ``val``, best first
    (ties by id); scores float64."""
    keep = ids != PAD_ID
    ids, val = ids[keep], val[keep]
    uniq, inv = np.unique(ids, return_inverse=True)
    total = np.bincount(inv, weights=val, minlength=len(uniq))
    order = np.lexsort((uniq, -total))
    return uniq[order], total[order]


def rrf_term(position: int | np.ndarray, k: float, weight: float = 1.0) -> float | np.ndarray:
    """What the item at 0-based ``position`` of a list of ``weight`` adds: ``weight / (k + position + 1)``."""
    return weight / (k + position + 1.0)


def fuse_ranked(ranked: Sequence[np.ndarray], weights: Sequence[float] | None = None,
                k: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Weighted RRF of one query's ranked id lists (best first, any lengths, ``PAD_ID`` skipped):
    every fused id, best first (ties by id), and its float64 score. No lists: nothing fused."""
    w = _weights(len(ranked), weights)
    if not len(ranked):
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    ids = np.concatenate([np.asarray(r, dtype=np.int64) for r in ranked])
    val = np.concatenate([np.asarray(rrf_term(np.arange(len(r)), k, wl), dtype=np.float64)
                          for wl, r in zip(w, ranked, strict=True)])
    return _combine(ids, val)


def reciprocal_rank_fusion(lists: Sequence[ScoredItems], n: int = 10, k: float = 60.0,
                           weights: Sequence[float] | None = None) -> ScoredItems:
    """RRF of ``lists`` (each ``(B, n_l)``), top ``n`` per query."""
    w = _check(lists, weights)
    rows = []
    for b in range(len(lists[0])):
        ids, total = fuse_ranked([x.ids[b] for x in lists], w.tolist(), k)
        rows.append((ids[:n], total[:n].astype(np.float32)))
    return ScoredItems.from_rows(rows, n)


def weighted_fusion(lists: Sequence[ScoredItems], n: int = 10, weights: Sequence[float] | None = None) -> ScoredItems:
    """Sum of per-query min-max normalized scores times ``weights``, top ``n`` per query."""
    w = _check(lists, weights)
    contrib = []
    for wl, x in zip(w, lists, strict=True):
        s = np.where(x.ids != PAD_ID, x.scores, np.nan).astype(np.float64)
        with np.errstate(all="ignore"):
            lo = np.nanmin(s, axis=1, keepdims=True)
            hi = np.nanmax(s, axis=1, keepdims=True)
            span = np.where(hi > lo, hi - lo, 1.0)
            norm = np.where(hi > lo, (s - lo) / span, 1.0)
        contrib.append(wl * np.nan_to_num(norm, nan=0.0))
    rows = []
    for b in range(len(lists[0])):
        ids, total = _combine(np.concatenate([x.ids[b] for x in lists]), np.concatenate([c[b] for c in contrib]))
        rows.append((ids[:n], total[:n].astype(np.float32)))
    return ScoredItems.from_rows(rows, n)
