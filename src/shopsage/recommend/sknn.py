"""Session-based kNN (SKNN / V-SKNN, Jannach and Ludewig 2017; Ludewig and Jannach 2018).

A session (any history) is compared with past training sessions that share at least one of its
items; of those, only the ``sample_size`` most recent are considered (recency = position in the
training data, or the session's last timestamp when there is one). Similarity is cosine (or
Jaccard) between the binary item sets, with the session's own items weighted by their distance
from its newest click (``weighting``; ``none`` gives plain SKNN). The ``neighbors`` most similar
sessions vote for their items with their similarity (times the item's IDF when ``idf``).

All of it is sparse and batched: ``(B, I) @ (I, S)`` for similarities, a per-row cut to the most
recent and then most similar sessions, and ``(B, S) @ (S, I)`` for the votes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from shopsage.artifacts import load_arrays
from shopsage.data.splits import Sequences
from shopsage.recommend._sparse import history_matrix, load_csr, position_weights, save_csr, top_k_per_row
from shopsage.recommend.base import ModelConfig, Recommender, TrainData, as_histories

__all__ = ["SKNNConfig", "SKNN"]


class SKNNConfig(ModelConfig):
    neighbors: int = Field(100, ge=1)
    """Most similar past sessions that vote."""
    sample_size: int = Field(1000, ge=1)
    """Most recent past sessions (sharing an item with the current one) that are compared."""
    similarity: Literal["cosine", "jaccard"] = "cosine"
    """Similarity of two sessions' item sets."""
    weighting: Literal["none", "linear", "div", "quadratic", "log"] = "div"
    """Decay of the current session's items with their distance d from the newest click:
    1, max(1 - 0.1 d, 0.1), 1/(1+d), 1/(1+d)², 1/log2(2+d). ``none`` is SKNN, the others V-SKNN."""
    idf: bool = False
    """Multiply a neighbour's vote for an item by the item's inverse session frequency."""
    batch_size: int = Field(512, ge=1)
    """Histories scored at a time (bounds the memory of the similarity matrix)."""


class SKNN(Recommender):
    """Session-based nearest neighbours (``sknn``)."""

    name = "sknn"
    Config = SKNNConfig
    config: SKNNConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"neighbors": trial.suggest_int("neighbors", 20, 500, log=True),
                "sample_size": trial.suggest_categorical("sample_size", [500, 1000, 2500, 5000]),
                "similarity": trial.suggest_categorical("similarity", ["cosine", "jaccard"]),
                "weighting": trial.suggest_categorical("weighting", ["none", "linear", "div", "quadratic", "log"]),
                "idf": trial.suggest_categorical("idf", [False, True])}

    def _fit(self, data: TrainData) -> None:
        seqs = data.sequences
        order = np.arange(len(seqs))
        if data.ts is not None and len(data.ts) and not np.isnan(data.ts).any():
            last = np.full(len(seqs), -np.inf)
            nonempty = seqs.lengths > 0
            last[nonempty] = data.ts[seqs.indptr[1:][nonempty] - 1]
            order = np.argsort(last, kind="stable")  # oldest first
        x = seqs.to_csr(self.n_items, binary=True)[order]  # (S, I): column index of x.T = recency rank
        x.sort_indices()
        self.sessions = x.tocsr()
        self._prepare()

    def _prepare(self) -> None:
        x = self.sessions
        self._by_item = x.T.tocsr()  # (I, S), session ids sorted = oldest first
        self._by_item.sort_indices()
        self._size = np.diff(x.indptr).astype(np.float32)  # distinct items per session
        df = np.diff(self._by_item.indptr).astype(np.float32)
        self._idf = np.log(len(self._size) / np.maximum(df, 1.0)).astype(np.float32) if self.config.idf else None

    def score(self, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        hist = as_histories(histories)
        self._check_items(hist.items)
        out = np.zeros((len(hist), self.n_items), np.float32)
        bs = self.config.batch_size
        for s in range(0, len(hist), bs):
            e = min(s + bs, len(hist))
            sub = Sequences(hist.indptr[s:e + 1] - hist.indptr[s], hist.items[hist.indptr[s]:hist.indptr[e]])
            out[s:e] = self._score_batch(sub)
        return out

    def _score_batch(self, hist: Sequences) -> np.ndarray:
        c = self.config
        w = history_matrix(hist, self.n_items, position_weights(hist, c.weighting))  # (B, I)
        sim = (w @ self._by_item).tocsr()  # (B, S): weighted overlap with each candidate session
        sim.sort_indices()
        sim = _keep_last_per_row(sim, c.sample_size)  # the most recent candidates
        rows = np.repeat(np.arange(sim.shape[0]), np.diff(sim.indptr))
        n_cur = np.diff(w.indptr).astype(np.float32)[rows]
        n_past = self._size[sim.indices]
        if c.similarity == "cosine":
            sim.data = sim.data / np.sqrt(n_cur * n_past)
        else:
            overlap = (w.sign() @ self._by_item).tocsr()  # unweighted overlap, same sparsity as sim
            overlap.sort_indices()
            count = _gather(overlap, rows, sim.indices)
            sim.data = sim.data / (n_cur + n_past - count)
        top = top_k_per_row(sim, c.neighbors)  # (B, S)
        votes = top @ self.sessions  # (B, I)
        dense = votes.toarray()
        if self._idf is not None:
            dense *= self._idf[None, :]
        return dense

    def _save(self, directory: Path) -> None:
        save_csr(directory, "sessions", self.sessions)

    def _load(self, directory: Path) -> None:
        n_sessions = len(load_arrays(directory, "sessions_indptr", mmap=True)["sessions_indptr"]) - 1
        self.sessions = load_csr(directory, "sessions", (n_sessions, self.n_items))
        self._prepare()


def _keep_last_per_row(mat: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` entries of each row with the largest column index (sorted indices)."""
    counts = np.diff(mat.indptr)
    if counts.max(initial=0) <= k:
        return mat
    start = np.repeat(mat.indptr[:-1] + np.maximum(counts - k, 0), counts)
    keep = np.arange(len(mat.data)) >= start
    return sp.csr_matrix((mat.data[keep], mat.indices[keep], np.r_[0, np.cumsum(np.minimum(counts, k))]),
                         shape=mat.shape)


def _gather(mat: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``mat[rows[e], cols[e]]`` for sorted-index CSR ``mat`` whose rows contain those columns."""
    key_all = np.repeat(np.arange(mat.shape[0], dtype=np.int64), np.diff(mat.indptr)) * mat.shape[1] + mat.indices
    pos = np.searchsorted(key_all, rows.astype(np.int64) * mat.shape[1] + cols)
    return mat.data[pos].astype(np.float32)
