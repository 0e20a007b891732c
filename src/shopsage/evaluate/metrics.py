"""Offline metrics, vectorized in numpy over a ranked batch and its targets.

Ranking metrics take a :class:`~shopsage.types.ScoredItems` (or its ``(B, n)`` id array, padded
with ``-1``) and the targets of each row (a ``(B,)`` array for one target per row, or a
:class:`~shopsage.data.splits.Sequences` of target sets). Definitions, with ``R`` the number of
distinct targets of a row and ``hits`` the targets found in the top ``k``:

- ``hr@k``: 1 if any target is in the top ``k`` (session papers' "P@20"); ``recall@k``: hits / R;
  ``precision@k``: hits / k; ``f1@k``: their harmonic mean;
- ``ndcg@k``: binary gains, discount ``1 / log2(rank + 1)``, ideal DCG of ``min(R, k)`` hits;
- ``mrr@k``: 1 / rank of the first hit (0 if none); ``map@k``: the sum of precision@r at each
  hit rank r, divided by R (the TREC / ranx definition).

A row without targets scores 0 everywhere (as in ranx). Values are fractions, means over rows.

The DCG/NDCG, recall and reciprocal-rank kernels live in :mod:`shopsage.ranking_metrics` (core
level, so that search and recommend use the same formulas) and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from shopsage.data.splits import Sequences
from shopsage.errors import ValidationError
from shopsage.ranking_metrics import (
    binary_ideal_dcg,
    dcg,
    discounts,
    ndcg,
    ndcg_binary,
    recall,
    reciprocal_rank,
    target_rank_metrics,
)
from shopsage.types import PAD_ID, ScoredItems

__all__ = ["RANKING_METRICS", "hit_matrix", "ranking_metrics", "per_row_metrics", "auc", "log_loss",
           "rank_auc", "coverage", "novelty", "intra_list_diversity", "popularity_bias",
           "discounts", "dcg", "ndcg", "binary_ideal_dcg", "ndcg_binary", "recall", "reciprocal_rank",
           "target_rank_metrics"]

RANKING_METRICS = ("hr", "recall", "precision", "f1", "ndcg", "mrr", "map")


def _ids(ranked: ScoredItems | np.ndarray) -> np.ndarray:
    ids = ranked.ids if isinstance(ranked, ScoredItems) else np.asarray(ranked)
    if ids.ndim != 2:
        raise ValidationError(f"ranked ids must be a (B, n) array; got shape {ids.shape}")
    return ids.astype(np.int64)


def _as_targets(targets: Sequences | np.ndarray | list[list[int]], n_rows: int) -> Sequences:
    if isinstance(targets, Sequences):
        seqs = targets
    elif isinstance(targets, np.ndarray) and targets.ndim == 1:
        seqs = Sequences(np.arange(len(targets) + 1, dtype=np.int64), targets.astype(np.int32))
    else:
        seqs = Sequences.from_lists(list(targets))
    if len(seqs) != n_rows:
        raise ValidationError(f"{len(seqs)} target rows for {n_rows} ranked rows: give one target set per row")
    return seqs


def hit_matrix(ranked: ScoredItems | np.ndarray, targets: Sequences | np.ndarray | list[list[int]],
               k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(hits (B, k) bool, n_targets (B,))``: whether rank ``r`` of row ``b`` is one of its targets,
    and how many distinct targets each row has."""
    ids = _ids(ranked)
    k = ids.shape[1] if k is None else k
    if k < 1:
        raise ValidationError(f"k of {k} must be at least 1")
    if k > ids.shape[1]:
        raise ValidationError(f"k of {k} is larger than the {ids.shape[1]} ranked items per row: rank more items")
    ids = ids[:, :k]
    tg = _as_targets(targets, ids.shape[0])
    width = int(max(ids.max(initial=0), tg.items.max(initial=0))) + 1
    t_rows = np.repeat(np.arange(len(tg), dtype=np.int64), tg.lengths)
    t_keys = np.unique(t_rows * width + tg.items.astype(np.int64))
    n_targets = np.bincount(t_keys // width, minlength=len(tg)).astype(np.int64)
    keys = np.arange(ids.shape[0], dtype=np.int64)[:, None] * width + ids
    hits = np.isin(keys, t_keys) & (ids != PAD_ID)
    return hits, n_targets


def per_row_metrics(ranked: ScoredItems | np.ndarray, targets: Sequences | np.ndarray | list[list[int]],
                    k: int, metrics: Iterable[str] = RANKING_METRICS) -> dict[str, np.ndarray]:
    """Each ranking metric at ``k`` for every row: ``{"ndcg": (B,) float64, ...}``."""
    metrics = list(metrics)
    unknown = set(metrics) - set(RANKING_METRICS)
    if unknown:
        raise ValidationError(f"unknown ranking metrics {sorted(unknown)}; known: {', '.join(RANKING_METRICS)}")
    hits, n_rel = hit_matrix(ranked, targets, k)
    h = hits.astype(np.float64)
    n_hits = h.sum(axis=1)
    out: dict[str, np.ndarray] = {}
    rec = recall(n_hits, n_rel)
    precision = n_hits / k
    if "hr" in metrics:
        out["hr"] = (n_hits > 0).astype(np.float64)
    if "recall" in metrics:
        out["recall"] = rec
    if "precision" in metrics:
        out["precision"] = precision
    if "f1" in metrics:
        denom = precision + rec
        out["f1"] = np.divide(2 * precision * rec, denom, out=np.zeros_like(denom), where=denom > 0)
    if "ndcg" in metrics:
        out["ndcg"] = ndcg_binary(hits, n_rel)
    if "mrr" in metrics:
        out["mrr"] = reciprocal_rank(hits)
    if "map" in metrics:
        prec_at = np.cumsum(h, axis=1) / np.arange(1, k + 1, dtype=np.float64)
        out["map"] = np.where(n_rel > 0, (prec_at * h).sum(axis=1) / np.maximum(n_rel, 1), 0.0)
    return out


def ranking_metrics(ranked: ScoredItems | np.ndarray, targets: Sequences | np.ndarray | list[list[int]],
                    ks: Iterable[int] = (10, 20), metrics: Iterable[str] = RANKING_METRICS) -> dict[str, float]:
    """Means over rows, keyed ``"ndcg@10"``, ``"hr@20"``, ... (fractions)."""
    metrics = list(metrics)
    out: dict[str, float] = {}
    for k in ks:
        for name, values in per_row_metrics(ranked, targets, k, metrics).items():
            out[f"{name}@{k}"] = float(values.mean()) if len(values) else 0.0
    return out


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of binary ``labels`` given ``scores`` (Mann-Whitney, ties count half)."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValidationError(f"{labels.size} labels for {scores.size} scores: give one label per score")
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValidationError("AUC needs at least one positive and one negative label")
    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def rank_auc(scores: np.ndarray, target: np.ndarray, exclude: list[np.ndarray] | None = None) -> np.ndarray:
    """Per-row AUC of one target against every other item of a dense ``(B, n_items)`` score matrix:
    the share of candidate negatives scored below the target (ties count half). Items in
    ``exclude[b]`` (other than the target) are not candidates."""
    scores = np.asarray(scores)
    if scores.dtype not in (np.float32, np.float64):
        scores = scores.astype(np.float64)
    target = np.asarray(target, dtype=np.int64)
    rows = np.arange(len(target))
    t = scores[rows, target][:, None]
    below = (scores < t).sum(axis=1).astype(np.float64)
    ties = (scores == t).sum(axis=1) - 1.0
    n_neg = np.full(len(target), scores.shape[1] - 1, dtype=np.float64)
    if exclude is not None:
        for b, ex in enumerate(exclude):
            ex = np.unique(np.asarray(ex, dtype=np.int64))
            ex = ex[ex != target[b]]
            if len(ex):
                s = scores[b, ex]
                below[b] -= (s < t[b, 0]).sum()
                ties[b] -= (s == t[b, 0]).sum()
                n_neg[b] -= len(ex)
    return np.divide(below + 0.5 * ties, n_neg, out=np.full(len(target), 0.5), where=n_neg > 0)


def log_loss(labels: np.ndarray, probs: np.ndarray, eps: float = 1e-15) -> float:
    """Mean binary cross-entropy of predicted probabilities (clipped to ``[eps, 1 - eps]``)."""
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.clip(np.asarray(probs, dtype=np.float64).ravel(), eps, 1 - eps)
    if y.shape != p.shape:
        raise ValidationError(f"{y.size} labels for {p.size} probabilities: give one label per prediction")
    if y.size == 0:
        raise ValidationError("log-loss of no predictions is undefined")
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def _top(ranked: ScoredItems | np.ndarray, k: int) -> np.ndarray:
    ids = _ids(ranked)
    return ids[:, : min(k, ids.shape[1])]


def coverage(ranked: ScoredItems | np.ndarray, n_items: int, k: int = 10) -> float:
    """Catalogue coverage: the share of the ``n_items`` that appear in some top ``k``."""
    ids = _top(ranked, k)
    return float(len(np.unique(ids[ids != PAD_ID])) / n_items) if n_items else 0.0


def _popularity_share(item_counts: np.ndarray, n_users: int) -> np.ndarray:
    if n_users <= 0:
        raise ValidationError("n_users must be positive: the number of training users or sessions")
    return np.asarray(item_counts, dtype=np.float64) / n_users


def novelty(ranked: ScoredItems | np.ndarray, item_counts: np.ndarray, n_users: int, k: int = 10) -> float:
    """Mean self-information ``-log2 p(i)`` of recommended items, ``p(i)`` = share of training
    users (or sessions) who interacted with ``i`` (an item nobody had counts as one user)."""
    ids = _top(ranked, k)
    ids = ids[ids != PAD_ID]
    if not len(ids):
        return 0.0
    p = np.maximum(_popularity_share(item_counts, n_users), 1.0 / n_users)
    return float(-np.log2(p[ids]).mean())


def popularity_bias(ranked: ScoredItems | np.ndarray, item_counts: np.ndarray, n_users: int, k: int = 10) -> float:
    """Average recommendation popularity (ARP): the mean, over lists, of the mean share of training
    users who interacted with each recommended item. Higher = more popularity-biased."""
    ids = _top(ranked, k)
    share = _popularity_share(item_counts, n_users)
    valid = ids != PAD_ID
    per_list = np.where(valid, share[np.where(valid, ids, 0)], 0.0).sum(axis=1)
    n = valid.sum(axis=1)
    keep = n > 0
    return float((per_list[keep] / n[keep]).mean()) if keep.any() else 0.0


def intra_list_diversity(ranked: ScoredItems | np.ndarray, item_vectors: np.ndarray | sp.spmatrix,
                         k: int = 10, batch_size: int = 2048) -> float:
    """Mean pairwise cosine distance ``1 - cos(i, j)`` between the items of each top ``k``, averaged
    over lists with at least two items. ``item_vectors`` is ``(n_items, d)``, dense or sparse
    (for instance the item columns of the training interaction matrix)."""
    ids = _top(ranked, k)
    sparse = sp.issparse(item_vectors)
    if sparse:
        vec = sp.csr_matrix(item_vectors, dtype=np.float64)
        norms = np.sqrt(np.asarray(vec.multiply(vec).sum(axis=1)).ravel())
        vec = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ vec)
    else:
        dense = np.asarray(item_vectors, dtype=np.float64)
        dense = dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)
    total, lists = 0.0, 0
    for lo in range(0, len(ids), batch_size):
        block = ids[lo:lo + batch_size]
        valid = block != PAD_ID
        safe = np.where(valid, block, 0)
        kk = block.shape[1]
        if sparse:
            sims = np.zeros((len(block), kk, kk))
            rows = [vec[safe[:, a]] for a in range(kk)]
            for a in range(kk):
                for b in range(a + 1, kk):
                    s = np.asarray(rows[a].multiply(rows[b]).sum(axis=1)).ravel()
                    sims[:, a, b] = sims[:, b, a] = s
        else:
            v = dense[safe]  # (B, k, d)
            sims = np.einsum("bid,bjd->bij", v, v)
        pair = valid[:, :, None] & valid[:, None, :] & ~np.eye(kk, dtype=bool)[None]
        n_pairs = pair.sum(axis=(1, 2))
        dist = np.where(pair, 1.0 - sims, 0.0).sum(axis=(1, 2))
        keep = n_pairs > 0
        total += float((dist[keep] / n_pairs[keep]).sum())
        lists += int(keep.sum())
    return total / lists if lists else 0.0
