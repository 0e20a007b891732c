"""Item-kNN: item-item cosine similarity with shrinkage, top neighbours kept sparse.

``sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i|) sqrt(|U_j|) + shrink)`` over the sequences ``U`` that
contain each item (Sarwar et al. 2001; shrinkage as in Koren 2008). Each item keeps its
``neighbors`` most similar items; a history scores item ``j`` by ``sum_{i in h} sim(i, j)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from shopsage.recommend._item_item import ItemItemRecommender
from shopsage.recommend._sparse import cooccurrence, load_csr, save_csr, top_k_per_row
from shopsage.recommend.base import ModelConfig, TrainData

__all__ = ["ItemKNNConfig", "ItemKNN"]


class ItemKNNConfig(ModelConfig):
    neighbors: int = Field(100, ge=1)
    """Most similar items kept per item (the rest are dropped: sparse model, faster scoring)."""
    shrink: float = Field(10.0, ge=0.0)
    """Added to the cosine denominator: pulls similarities from few co-occurrences towards 0."""


class ItemKNN(ItemItemRecommender):
    """Item-item collaborative filtering (``itemknn``)."""

    name = "itemknn"
    Config = ItemKNNConfig
    config: ItemKNNConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"neighbors": trial.suggest_int("neighbors", 20, 1000, log=True),
                "shrink": trial.suggest_float("shrink", 0.0, 200.0)}

    def _fit(self, data: TrainData) -> None:
        co = cooccurrence(data.sequences, self.n_items)  # (I, I) co-occurrence counts
        support = np.asarray(data.user_item(binary=True).sum(axis=0)).ravel()  # sequences per item
        norm = np.sqrt(support).astype(np.float32)
        rows = np.repeat(np.arange(self.n_items), np.diff(co.indptr))
        co.data = co.data / (norm[rows] * norm[co.indices] + self.config.shrink)
        self.weights = top_k_per_row(co, self.config.neighbors)

    def _save(self, directory: Path) -> None:
        save_csr(directory, "weights", self.weights)

    def _load(self, directory: Path) -> None:
        self.weights = load_csr(directory, "weights", (self.n_items, self.n_items))

