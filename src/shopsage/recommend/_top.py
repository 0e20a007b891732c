"""Top-n of one score row without ranking the whole row, with :meth:`ScoredItems.from_scores`'s answer (private).

``from_scores`` selects with ``argpartition`` over every item (about 40 us for 4,400 items) and orders ties
among the selected items as ``argpartition`` left them. A served request ranks one row, and its best
``n + 1`` items are found cheaper from a candidate set (a CSR row's stored entries, a torch ``topk``, the
items above a threshold). When no two of those best ``n + 1`` scores are equal the top ``n`` is the same
whatever ranked it, so the candidates' answer is ``from_scores``'s; on a tie these functions return None and
the caller ranks the row with ``from_scores`` (same answers as before, every time).
"""

from __future__ import annotations

import numpy as np

from shopsage.types import PAD_ID

__all__ = ["exact_top", "dense_top"]

_SAMPLE_STEP = 8
"""``dense_top`` reads every 8th score to find a threshold that at least ``n + 1`` items reach."""


def exact_top(cand: np.ndarray, vals: np.ndarray, n: int, n_items: int,
              any_tie_order: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """The top ``n`` ``(ids (n,) int32, scores (n,) float32)`` of a row of ``n_items`` scores, padded as
    ``from_scores`` pads (``PAD_ID`` and -inf past the finite ones), from the items ``cand`` and their
    scores ``vals``; the row's other items must score below all of the best ``min(n, n_items) + 1``
    candidates (or -inf). None when two of those best scores are equal (a tie, or one at the cut);
    ``any_tie_order``: None only for a tie at the cut (the caller reads the top as a set: equal scores
    may then come in another order than ``from_scores``', by id)."""
    k = min(n, n_items)
    order = np.argsort(-vals, kind="stable")[: k + 1]
    v = vals[order]
    distinct = (v[:-1] > v[1:]) | (v[:-1] == -np.inf)  # ties among -inf are padding either way
    if not (distinct[k - 1:].all() if any_tie_order else distinct.all()):
        return None
    m = min(k, len(order))
    ids = np.empty(n, np.int32)
    scores = np.empty(n, np.float32)
    ids[:m] = cand[order[:m]]
    scores[:m] = v[:m]
    ids[m:] = PAD_ID
    scores[m:] = -np.inf
    ids[~np.isfinite(scores)] = PAD_ID
    return ids, scores


def dense_top(row: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`exact_top` of a dense float32 score row (excluded items at -inf): the candidates are the items
    at or above the ``k + 1``-th best of every 8th score, so at least ``k + 1`` items. None on a tie, and
    when the row is too short or its threshold lets through more than a quarter of it (mostly -inf rows)."""
    k = min(n, len(row))
    sample = row[::_SAMPLE_STEP]
    if len(sample) <= 4 * (k + 1):
        return None
    cut = len(sample) - (k + 1)
    thr = np.partition(sample, cut)[cut]
    if not np.isfinite(thr):
        return None
    cand = np.flatnonzero(row >= thr)
    if len(cand) > len(row) // 4:
        return None
    return exact_top(cand, row[cand], n, len(row))
