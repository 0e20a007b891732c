"""Shared scoring of models that are an item-item weight matrix ``W`` (item-kNN, EASE, FBT).

The score of item ``j`` for a history ``h`` is ``sum_{i in h} W[i, j]``; the item of the history
that contributed the largest term is the explanation of a recommendation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shopsage.data.splits import Sequences
from shopsage.recommend._sparse import history_matrix
from shopsage.recommend._top import exact_top
from shopsage.recommend.base import Recommender, as_histories
from shopsage.types import ScoredItems

__all__ = ["ItemItemRecommender"]


class ItemItemRecommender(Recommender):
    """A recommender whose model is ``self.weights``: a sparse CSR or dense ``(n_items, n_items)``
    matrix, row ``i`` holding how much item ``i`` in a history speaks for every other item."""

    weights: sp.csr_matrix | np.ndarray

    def score(self, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        hist = as_histories(histories)
        self._check_items(hist.items)
        if len(hist) == 1 and not sp.issparse(self.weights) and self.weights.dtype == np.float32:  # a served request
            out = np.zeros((1, self.n_items), np.float32)
            for i in np.unique(hist.items).tolist():  # its rows added in item order, as the sparse product adds them
                out[0] += self.weights[i]
            return out
        h = history_matrix(hist, self.n_items)
        out = h @ self.weights
        dense = out.toarray() if sp.issparse(out) else np.asarray(out)
        return dense.astype(np.float32, copy=False)

    def _weight_rows(self, items: np.ndarray) -> np.ndarray:
        w = self.weights
        if not sp.issparse(w):
            return np.asarray(w[items], dtype=np.float32)  # fancy indexing copies already
        if not (isinstance(w, sp.csr_matrix) and w.has_canonical_format):
            return w[items].toarray().astype(np.float32, copy=False)
        # a few rows of a canonical CSR, read from its arrays (scipy's row indexing: 27 us for 1 to 5 rows)
        out = np.zeros((len(items), w.shape[1]), np.float32)
        for r, i in enumerate(np.asarray(items, dtype=np.int64).tolist()):
            lo, hi = w.indptr[i], w.indptr[i + 1]
            out[r, w.indices[lo:hi]] = w.data[lo:hi]
        return out

    def similar_items(self, items: np.ndarray | list[int], n: int = 10) -> ScoredItems:
        """Items with the largest weight in each item's row; items with no weight (never seen
        with it) are not returned, so rows may be padded."""
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        self._check_items(items)
        fast = self._similar_from_csr(items, n)
        if fast is not None:
            return fast
        rows = self._weight_rows(items)
        rows[rows <= 0] = -np.inf
        return ScoredItems.from_scores(rows, n, exclude=[np.array([i]) for i in items])

    def similar_sets(self, items: np.ndarray | list[int], n: int = 10) -> ScoredItems:
        """:meth:`similar_items` for a caller that reads each row as a set of neighbours (``similar_to_recent``):
        the same items and scores in each row, equal scores in any order (by id from a sparse model's rows,
        which then need no dense row ranked)."""
        if type(self).similar_items is not ItemItemRecommender.similar_items:
            return self.similar_items(items, n)  # a subclass ranks its neighbours its own way
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        self._check_items(items)
        fast = self._similar_from_csr(items, n, any_tie_order=True)
        return fast if fast is not None else self.similar_items(items, n)

    def _similar_from_csr(self, items: np.ndarray, n: int, any_tie_order: bool = False) -> ScoredItems | None:
        """:meth:`similar_items` from a canonical CSR's stored entries of each row (a served request's few
        rows: no dense row to rank); None for a dense matrix, or on a tie (:func:`exact_top`)."""
        w = self.weights
        if not (isinstance(w, sp.csr_matrix) and w.has_canonical_format):
            return None
        ids = np.empty((len(items), n), np.int32)
        scores = np.empty((len(items), n), np.float32)
        for r, i in enumerate(items.tolist()):
            lo, hi = w.indptr[i], w.indptr[i + 1]
            cand, vals = w.indices[lo:hi], w.data[lo:hi].astype(np.float32)
            keep = (vals > 0) & (cand != i)  # as similar_items: no weight or the item itself is -inf
            top = exact_top(cand[keep], vals[keep], n, self.n_items, any_tie_order)
            if top is None:
                return None
            ids[r], scores[r] = top
        return ScoredItems(ids, scores)

    def explain(self, history: np.ndarray | list[int], items: np.ndarray | list[int]) -> list[tuple[int, float]]:
        """For each of ``items``, the history item that contributed most to its score and that
        contribution ``W[source, item]``; ``(-1, 0.0)`` when no history item speaks for it. Ties go
        to the most recent history item (``history`` is oldest first)."""
        self._check_fitted()
        newest_first = np.asarray(history, dtype=np.int64)[::-1]
        _, first = np.unique(newest_first, return_index=True)
        hist = newest_first[np.sort(first)]  # distinct items, newest first
        items = np.asarray(items, dtype=np.int64)
        self._check_items(hist)
        self._check_items(items)
        if len(hist) == 0:
            return [(-1, 0.0)] * len(items)
        w = self.weights
        contrib = (np.asarray(w[np.ix_(hist, items)], dtype=np.float32) if not sp.issparse(w)
                   else self._weight_rows(hist)[:, items])  # (H, n)
        best = np.argmax(contrib, axis=0)
        top = contrib[best, np.arange(len(items))]
        return [(int(hist[b]), float(w)) if w > 0 else (-1, 0.0) for b, w in zip(best, top, strict=True)]
