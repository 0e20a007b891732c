"""Fusion of several ranked lists of the same queries into one (any :class:`ScoredItems`).

- Reciprocal rank fusion (Cormack et al. 2009): ``sum_l w_l / (k + rank_l(d))``, rank from 1.
  Uses ranks only, so it needs no score calibration.
- Weighted score fusion: each list's scores are min-max normalized per query to [0, 1], then
  ``sum_l w_l * s_l(d)``; an item missing from a list gets 0 from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopsage.errors import ValidationError
from shopsage.types import PAD_ID, ScoredItems

__all__ = ["reciprocal_rank_fusion", "weighted_fusion"]


def _check(lists: Sequence[ScoredItems], weights: Sequence[float] | None) -> np.ndarray:
    if not lists:
        raise ValidationError("fusion needs at least one result list.")
    if len({len(x) for x in lists}) != 1:
        raise ValidationError(f"result lists have different batch sizes {[len(x) for x in lists]}: fuse lists of the same queries.")
    w = np.ones(len(lists)) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(w) != len(lists):
        raise ValidationError(f"{len(w)} weights for {len(lists)} lists: give one weight per list.")
    return w


def _fuse_rows(lists: Sequence[ScoredItems], contrib: list[np.ndarray], n: int) -> ScoredItems:
    rows = []
    for b in range(len(lists[0])):
        ids = np.concatenate([x.ids[b] for x in lists])
        val = np.concatenate([c[b] for c in contrib])
        keep = ids != PAD_ID
        ids, val = ids[keep], val[keep]
        uniq, inv = np.unique(ids, return_inverse=True)
        total = np.bincount(inv, weights=val, minlength=len(uniq))
        order = np.lexsort((uniq, -total))[:n]
        rows.append((uniq[order], total[order].astype(np.float32)))
    return ScoredItems.from_rows(rows, n)


def reciprocal_rank_fusion(lists: Sequence[ScoredItems], n: int = 10, k: float = 60.0,
                           weights: Sequence[float] | None = None) -> ScoredItems:
    """RRF of ``lists`` (each ``(B, n_l)``), top ``n`` per query."""
    w = _check(lists, weights)
    contrib = []
    for wl, x in zip(w, lists, strict=True):
        ranks = np.arange(1, x.ids.shape[1] + 1, dtype=np.float64)
        contrib.append(np.broadcast_to(wl / (k + ranks), x.ids.shape))
    return _fuse_rows(lists, contrib, n)


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
    return _fuse_rows(lists, contrib, n)
