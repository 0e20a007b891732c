"""Frequently bought together: association rules from co-occurrence within sequences.

For items ``i`` and ``j`` with ``c_ij`` sequences containing both (optionally only within
``window`` positions of each other), ``c_i`` sequences containing ``i`` and ``N`` sequences:
``count`` = ``c_ij``; ``confidence(i → j)`` = ``c_ij / c_i``; ``lift(i, j)`` = ``c_ij N / (c_i c_j)``.
Pairs seen in fewer than ``min_support`` sequences are dropped; each item keeps its
``neighbors`` best partners. A history scores ``j`` by ``sum_{i in h} w(i → j)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from shopsage.recommend._item_item import ItemItemRecommender
from shopsage.recommend._sparse import cooccurrence, load_csr, save_csr, top_k_per_row
from shopsage.recommend.base import ModelConfig, TrainData

__all__ = ["FBTConfig", "FBT"]


class FBTConfig(ModelConfig):
    measure: Literal["count", "confidence", "lift"] = "confidence"
    """Weight of a pair: raw co-occurrence count, confidence c_ij / c_i, or lift c_ij N / (c_i c_j)."""
    window: int | None = Field(None, ge=1)
    """Count only items at most this many positions apart in a sequence; None = anywhere in it."""
    min_support: int = Field(2, ge=1)
    """Sequences a pair must occur in to be kept (lift of a pair seen once is noise)."""
    neighbors: int = Field(100, ge=1)
    """Partners kept per item."""


class FBT(ItemItemRecommender):
    """Co-purchase association rules (``fbt``)."""

    name = "fbt"
    Config = FBTConfig
    config: FBTConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        window = trial.suggest_categorical("window", [0, 1, 3, 10])
        return {"measure": trial.suggest_categorical("measure", ["count", "confidence", "lift"]),
                "window": window or None,
                "min_support": trial.suggest_int("min_support", 1, 5),
                "neighbors": trial.suggest_int("neighbors", 20, 500, log=True)}

    def _fit(self, data: TrainData) -> None:
        co = cooccurrence(data.sequences, self.n_items, self.config.window)  # (I, I) pair counts
        co.data[co.data < self.config.min_support] = 0.0
        co.eliminate_zeros()
        support = np.asarray(data.user_item(binary=True).sum(axis=0)).ravel().astype(np.float32)
        rows = np.repeat(np.arange(self.n_items), np.diff(co.indptr))
        if self.config.measure == "confidence":
            co.data = co.data / support[rows]
        elif self.config.measure == "lift":
            co.data = co.data * len(data.sequences) / (support[rows] * support[co.indices])
        self.weights = top_k_per_row(co, self.config.neighbors)

    def _save(self, directory: Path) -> None:
        save_csr(directory, "weights", self.weights)

    def _load(self, directory: Path) -> None:
        self.weights = load_csr(directory, "weights", (self.n_items, self.n_items))
