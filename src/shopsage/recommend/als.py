"""ALS: implicit-feedback matrix factorisation (Hu, Koren, Volinsky 2008) via ``implicit`` (CPU).

Training fits item factors ``Y`` with confidence ``alpha`` on each observed interaction. Scoring
a history recomputes its user factor by the exact least-squares step of ALS against the fixed
``Y``: ``x = (YᵀY + Yᵀ(C - I)Y + reg·I)⁻¹ YᵀC p`` (implicit's ``recalculate_user``), so one
model serves known users, new users and anonymous sessions alike, and reacts to the newest event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from shopsage.artifacts import load_arrays, save_arrays
from shopsage.data.splits import Sequences
from shopsage.errors import ModelError
from shopsage.recommend._sparse import history_matrix
from shopsage.recommend.base import ModelConfig, Recommender, TrainData, as_histories
from shopsage.types import ScoredItems

__all__ = ["ALSConfig", "ALS"]


class ALSConfig(ModelConfig):
    embedding_dim: int = Field(64, ge=1)
    """Number of latent factors."""
    reg: float = Field(0.01, ge=0.0)
    """L2 regularisation of user and item factors."""
    alpha: float = Field(10.0, gt=0.0)
    """Confidence of an observed interaction (implicit's ``alpha``: confidence = alpha · count)."""
    epochs: int = Field(15, ge=1)
    """ALS sweeps (user factors then item factors)."""
    seed: int = 0
    """Seed of the initial factors."""
    num_threads: int = Field(0, ge=0)
    """Threads for fitting and user-factor recomputation; 0 = every core."""


def _implicit_als(config: ALSConfig) -> Any:
    try:
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError as exc:  # pragma: no cover - implicit is a runtime dependency
        raise ModelError("the als model needs the 'implicit' package: pip install implicit") from exc
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit parallelises itself and warns about BLAS threads
        return AlternatingLeastSquares(factors=config.embedding_dim, regularization=config.reg,
                                       alpha=config.alpha, iterations=config.epochs, random_state=config.seed,
                                       num_threads=config.num_threads)


class ALS(Recommender):
    """Alternating least squares (``als``)."""

    name = "als"
    Config = ALSConfig
    config: ALSConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128, 256]),
                "reg": trial.suggest_float("reg", 1e-3, 100.0, log=True),
                "alpha": trial.suggest_float("alpha", 0.5, 100.0, log=True),
                "epochs": trial.suggest_int("epochs", 5, 30)}

    def _fit(self, data: TrainData) -> None:
        from threadpoolctl import threadpool_limits

        self._model = _implicit_als(self.config)
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads slow it down
            self._model.fit(data.user_item(binary=True), show_progress=False)
        self.item_factors = np.ascontiguousarray(self._model.item_factors, dtype=np.float32)

    def user_factors(self, histories: Sequences) -> np.ndarray:
        """``(B, embedding_dim)`` user factors recomputed from each history."""
        self._check_fitted()
        hist = as_histories(histories)
        self._check_items(hist.items)
        h = history_matrix(hist, self.n_items)
        return np.asarray(self._model.recalculate_user(np.arange(len(hist)), h), dtype=np.float32)

    def score(self, histories: Sequences) -> np.ndarray:
        return self.user_factors(histories) @ self.item_factors.T  # (B, D) @ (D, I)

    def similar_items(self, items: np.ndarray | list[int], n: int = 10) -> ScoredItems:
        """Cosine similarity of item factors."""
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        self._check_items(items)
        unit = self.item_factors / np.maximum(np.linalg.norm(self.item_factors, axis=1, keepdims=True), 1e-12)
        return ScoredItems.from_scores(unit[items] @ unit.T, n, exclude=[np.array([i]) for i in items])

    def _save(self, directory: Path) -> None:
        save_arrays(directory, item_factors=self.item_factors)

    def _load(self, directory: Path) -> None:
        self.item_factors = load_arrays(directory, "item_factors")["item_factors"]
        self._model = _implicit_als(self.config)
        self._model.item_factors = self.item_factors
