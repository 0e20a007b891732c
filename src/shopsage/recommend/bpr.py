"""BPR: matrix factorisation trained for pairwise ranking (Rendle et al., UAI 2009) via ``implicit``.

Training (``implicit``, CPU) learns item factors and an item bias. Scoring a history folds it in:
its user factor ``x`` starts at 0 and takes ``fold_in_steps`` full gradient steps of the BPR
objective ``Σ_{i∈h} Σ_{j} log σ(x·(y_i - y_j) + b_i - b_j) - reg |x|²`` against the fixed item
factors, with ``fold_in_negatives`` negatives ``j`` per history item drawn by a hash of (seed,
item, position, step): the same history always gets the same factor, whatever batch it is in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field
from scipy.special import expit

from shopsage.artifacts import load_arrays, save_arrays
from shopsage.data.splits import Sequences
from shopsage.errors import ModelError
from shopsage.recommend.base import ModelConfig, Recommender, TrainData, as_histories
from shopsage.types import ScoredItems

__all__ = ["BPRConfig", "BPR"]


class BPRConfig(ModelConfig):
    embedding_dim: int = Field(64, ge=1)
    """Number of latent factors (plus one item bias)."""
    learning_rate: float = Field(0.05, gt=0.0)
    """SGD step size, in training and in fold-in."""
    reg: float = Field(0.01, ge=0.0)
    """L2 regularisation of the factors."""
    epochs: int = Field(100, ge=1)
    """Passes of SGD over the interactions."""
    seed: int = 0
    """Seed of initial factors, negative sampling and fold-in negatives."""
    fold_in_steps: int = Field(50, ge=1)
    """Gradient steps that fit a history's user factor at scoring time."""
    fold_in_negatives: int = Field(8, ge=1)
    """Negatives per history item in each fold-in step."""
    num_threads: int = Field(0, ge=0)
    """Training threads; 0 = every core (several threads make training non-deterministic)."""


_CHUNK = 512  # histories folded in at a time


def _hash(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-mixed uint64 from a uint64 counter."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class BPR(Recommender):
    """Bayesian personalised ranking (``bpr``)."""

    name = "bpr"
    Config = BPRConfig
    config: BPRConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
                "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.2, log=True),
                "reg": trial.suggest_float("reg", 1e-4, 0.1, log=True),
                "epochs": trial.suggest_int("epochs", 20, 300, log=True)}

    def _fit(self, data: TrainData) -> None:
        try:
            from implicit.cpu.bpr import BayesianPersonalizedRanking
        except ImportError as exc:  # pragma: no cover - implicit is a runtime dependency
            raise ModelError("the bpr model needs the 'implicit' package: pip install implicit") from exc
        from threadpoolctl import threadpool_limits

        c = self.config
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(factors=c.embedding_dim, learning_rate=c.learning_rate,
                                                regularization=c.reg, iterations=c.epochs, random_state=c.seed,
                                                num_threads=c.num_threads)
            model.fit(data.user_item(binary=True), show_progress=False)
        factors = np.asarray(model.item_factors, dtype=np.float32)  # (I, D + 1): factors, then bias
        self.item_factors = np.ascontiguousarray(factors[:, :-1])
        self.item_bias = np.ascontiguousarray(factors[:, -1])

    def user_factors(self, histories: Sequences) -> np.ndarray:
        """``(B, embedding_dim)`` user factors folded in from each history (see the module doc)."""
        self._check_fitted()
        hist = as_histories(histories)
        self._check_items(hist.items)
        out = np.zeros((len(hist), self.item_factors.shape[1]), np.float32)
        for s in range(0, len(hist), _CHUNK):  # bounds the (E, K, D) work arrays
            e = min(s + _CHUNK, len(hist))
            out[s:e] = self._fold_in(Sequences(hist.indptr[s:e + 1] - hist.indptr[s],
                                               hist.items[hist.indptr[s]:hist.indptr[e]]))
        return out

    def _fold_in(self, hist: Sequences) -> np.ndarray:
        c = self.config
        y, bias = self.item_factors, self.item_bias
        rows = np.repeat(np.arange(len(hist)), hist.lengths)  # (E,) history of each entry
        pos = hist.items.astype(np.int64)  # (E,)
        slot = (np.arange(len(pos)) - np.repeat(hist.indptr[:-1], hist.lengths)).astype(np.uint64)
        base = _hash((pos.astype(np.uint64) << np.uint64(20)) ^ slot ^ (np.uint64(c.seed) << np.uint64(48)))
        x = np.zeros((len(hist), y.shape[1]), np.float32)  # (B, D)
        ks = np.arange(c.fold_in_negatives, dtype=np.uint64)
        for step in range(c.fold_in_steps):
            key = base[:, None] ^ ((np.uint64(step) << np.uint64(32)) + ks[None, :])
            neg = (_hash(key) % np.uint64(self.n_items)).astype(np.int64)  # (E, K)
            diff = y[pos][:, None, :] - y[neg]  # (E, K, D)
            margin = np.einsum("ekd,ed->ek", diff, x[rows]) + (bias[pos][:, None] - bias[neg])
            grad = (expit(-margin)[:, :, None] * diff).sum(axis=1)  # (E, D)
            g = np.zeros_like(x)
            np.add.at(g, rows, grad)
            x += c.learning_rate * (g - c.reg * x)
        return x

    def score(self, histories: Sequences) -> np.ndarray:
        return self.user_factors(histories) @ self.item_factors.T + self.item_bias[None, :]

    def similar_items(self, items: np.ndarray | list[int], n: int = 10) -> ScoredItems:
        """Cosine similarity of item factors."""
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        self._check_items(items)
        unit = self.item_factors / np.maximum(np.linalg.norm(self.item_factors, axis=1, keepdims=True), 1e-12)
        return ScoredItems.from_scores(unit[items] @ unit.T, n, exclude=[np.array([i]) for i in items])

    def _save(self, directory: Path) -> None:
        save_arrays(directory, item_factors=self.item_factors, item_bias=self.item_bias)

    def _load(self, directory: Path) -> None:
        a = load_arrays(directory, "item_factors", "item_bias")
        self.item_factors, self.item_bias = a["item_factors"], a["item_bias"]
