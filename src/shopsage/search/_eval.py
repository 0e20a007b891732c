"""Retrieval metrics for the search benchmark (private, vectorized): graded judgments looked up
for ranked ids, scored by the one NDCG and recall of :mod:`shopsage.ranking_metrics` (the kernels
that :mod:`shopsage.evaluate.metrics` builds on; evaluate itself lies above ``search``).
``tests/search/test_eval.py`` checks them against hand-computed cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from shopsage.ranking_metrics import ndcg, recall

__all__ = ["JudgmentTable", "ndcg_at_k", "recall_at_k", "judgment_table", "quality"]


class JudgmentTable:
    """Graded judgments of B queries over int item ids, for vectorized lookups."""

    def __init__(self, query_index: np.ndarray, items: np.ndarray, gains: np.ndarray, n_queries: int) -> None:
        self.n_queries = n_queries
        self.stride = int(items.max()) + 2 if len(items) else 1
        keys = query_index.astype(np.int64) * self.stride + items.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.gains = gains[order].astype(np.float64)
        self.query_index = query_index[order].astype(np.int64)

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """``(B, k)`` gains of ranked ``ids`` (0 for unjudged and padding)."""
        b = np.arange(ids.shape[0], dtype=np.int64)[:, None]
        valid = (ids >= 0) & (ids < self.stride)
        keys = b * self.stride + np.where(valid, ids, 0).astype(np.int64)
        pos = np.searchsorted(self.keys, keys)
        pos = np.minimum(pos, max(len(self.keys) - 1, 0))
        hit = valid & (self.keys[pos] == keys) if len(self.keys) else np.zeros(ids.shape, bool)
        return np.where(hit, self.gains[pos], 0.0)

    def ideal(self, k: int, min_gain: float = -np.inf) -> np.ndarray:
        """``(B, k)`` judged gains of each query sorted descending (entries below ``min_gain`` dropped)."""
        out = np.zeros((self.n_queries, k))
        keep = self.gains >= min_gain
        q, g = self.query_index[keep], self.gains[keep]
        order = np.lexsort((-g, q))
        q, g = q[order], g[order]
        start = np.searchsorted(q, np.arange(self.n_queries))
        rank = np.arange(len(q)) - start[q]
        m = rank < k
        out[q[m], rank[m]] = g[m]
        return out

    def count(self, min_gain: float) -> np.ndarray:
        keep = self.gains >= min_gain
        return np.bincount(self.query_index[keep], minlength=self.n_queries)


def ndcg_at_k(ids: np.ndarray, table: JudgmentTable, k: int = 10) -> np.ndarray:
    """``(B,)`` nDCG@k with linear gains; queries without positive gain get NaN."""
    return ndcg(table.lookup(ids[:, :k]), table.ideal(k), empty=np.nan)


def recall_at_k(ids: np.ndarray, table: JudgmentTable, k: int = 100, min_gain: float = 1.0) -> np.ndarray:
    """``(B,)`` share of items with gain >= ``min_gain`` found in the top k; NaN for queries with none."""
    found = (table.lookup(ids[:, :k]) >= min_gain).sum(axis=1)
    return recall(found, table.count(min_gain), empty=np.nan)


def judgment_table(queries: Sequence[str], judgments: Sequence[tuple[str, str, float]],
                   slot_of: Callable[[str], int | None]) -> JudgmentTable:
    """The judgments of ``queries`` (row ``b`` = ``queries[b]``) over catalogue slots; items the
    catalogue does not hold are left out."""
    qpos = {q: i for i, q in enumerate(queries)}
    qi, items, gains = [], [], []
    for q, ext, g in judgments:
        s = slot_of(ext)
        if q in qpos and s is not None:
            qi.append(qpos[q])
            items.append(s)
            gains.append(g)
    return JudgmentTable(np.array(qi, np.int64), np.array(items, np.int64), np.array(gains), len(queries))


def quality(ids: np.ndarray, table: JudgmentTable) -> dict[str, float]:
    """Whole-catalogue retrieval quality of ranked ``ids`` ``(B, >= 100)``: mean nDCG@10 (queries without
    any gain count 0) and mean Recall@100 of items with gain >= 1 (queries with none left out)."""
    nd = np.nan_to_num(ndcg_at_k(ids, table, 10), nan=0.0)
    rc = recall_at_k(ids, table, 100, 1.0)
    return {"ndcg@10": float(nd.mean()) if len(nd) else 0.0,
            "recall@100": float(np.nanmean(rc)) if np.isfinite(rc).any() else 0.0,
            "queries": int(len(nd)), "recall_queries": int(np.isfinite(rc).sum())}
