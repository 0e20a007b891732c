"""The ranking-metric kernels every part of ShopSage uses: DCG and NDCG (graded or binary gains),
recall, reciprocal rank, and the metrics of one target's rank.

One discount everywhere: the gain at 1-based rank ``r`` counts ``1 / log2(r + 1)``, so

    DCG@k = sum_{r=1..k} gain_r / log2(r + 1)        NDCG@k = DCG@k / ideal DCG@k

where the ideal DCG is the DCG of the row's best possible gains (its judged gains sorted
descending; for binary gains, ``min(R, k)`` hits with ``R`` relevant items). A row whose ideal DCG
is 0 has no NDCG: callers say what it counts as (``empty``: 0 in offline evaluation, as in ranx;
NaN in the search benchmark, which leaves such queries out of some means).

These kernels sit at the core level (numpy only) so that ``search`` and ``recommend``, which lie
below ``evaluate`` in the import order, use the same formulas as :mod:`shopsage.evaluate.metrics`
(which builds its batch metrics on them and re-exports them).
"""

from __future__ import annotations

import numpy as np

__all__ = ["discounts", "dcg", "ndcg", "binary_ideal_dcg", "ndcg_binary", "recall", "reciprocal_rank",
           "target_rank_metrics"]


def discounts(k: int) -> np.ndarray:
    """``(k,)`` float64: ``1 / log2(r + 1)`` for ranks ``r = 1..k``."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def dcg(gains: np.ndarray) -> np.ndarray:
    """``(B,)`` DCG of ``(B, k)`` gains listed in rank order (0 where nothing relevant stands)."""
    g = np.asarray(gains, dtype=np.float64)
    return g @ discounts(g.shape[1])


def _ratio(value: np.ndarray, ideal: np.ndarray, empty: float) -> np.ndarray:
    return np.divide(value, ideal, out=np.full(len(value), empty, dtype=np.float64), where=ideal > 0)


def ndcg(gains: np.ndarray, ideal_gains: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """``(B,)`` NDCG of ``(B, k)`` ranked gains against ``(B, k)`` ideal gains (each row's best
    possible gains, sorted descending, 0-padded); ``empty`` where the ideal DCG is 0."""
    return _ratio(dcg(gains), dcg(ideal_gains), empty)


def binary_ideal_dcg(n_relevant: np.ndarray, k: int) -> np.ndarray:
    """``(B,)`` ideal DCG@k of binary gains: ``min(R, k)`` hits at the top, ``R`` = ``n_relevant``."""
    cumulative = np.r_[0.0, np.cumsum(discounts(k))]
    return cumulative[np.minimum(np.asarray(n_relevant, dtype=np.int64), k)]


def ndcg_binary(hits: np.ndarray, n_relevant: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """``(B,)`` NDCG of ``(B, k)`` boolean hits, each row having ``n_relevant`` relevant items;
    ``empty`` for rows with none."""
    return _ratio(dcg(hits), binary_ideal_dcg(n_relevant, np.shape(hits)[1]), empty)


def recall(n_found: np.ndarray, n_relevant: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """``(B,)`` share of each row's ``n_relevant`` items found; ``empty`` for rows with none."""
    found = np.asarray(n_found, dtype=np.float64)
    return _ratio(found, np.asarray(n_relevant, dtype=np.float64), empty)


def reciprocal_rank(hits: np.ndarray) -> np.ndarray:
    """``(B,)`` ``1 / rank`` of each row's first hit in ``(B, k)`` boolean hits (0 without one)."""
    h = np.asarray(hits, dtype=bool)
    return np.where(h.any(axis=1), 1.0 / (np.argmax(h, axis=1) + 1), 0.0)


def target_rank_metrics(ranks: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """``hr``, ``ndcg`` and ``mrr`` at ``k`` of one target per row from its 0-based ``ranks``
    ``(B,)`` (any rank ``>= k`` is a miss): the same values as the batch kernels above give for a
    ranked list with that one relevant item."""
    r = np.asarray(ranks, dtype=np.int64)
    hit = r < k
    at = np.minimum(r, k - 1)
    return {"hr": hit.astype(np.float64),
            "ndcg": np.where(hit, discounts(k)[at], 0.0),
            "mrr": np.where(hit, 1.0 / (at + 1), 0.0)}
