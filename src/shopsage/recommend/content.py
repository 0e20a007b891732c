"""Content scoring from item embeddings (e.g. text embeddings of titles), as a recommender.

A history is the L2-normalised mean of its items' unit embeddings; items score by cosine with it.
``similar_items`` is the cosine between items. The embeddings come from outside (a text encoder
over ``TrainData.item_text``, image features, ...); ``fit`` only checks their shape. It is the
"content" side of :class:`~shopsage.recommend.hybrid.Hybrid`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shopsage.artifacts import load_arrays, save_arrays
from shopsage.data.splits import Sequences
from shopsage.errors import ModelError
from shopsage.recommend._sparse import history_matrix
from shopsage.recommend.base import ModelConfig, Recommender, TrainData, as_histories
from shopsage.types import ScoredItems

__all__ = ["ContentConfig", "ContentScorer"]


class ContentConfig(ModelConfig):
    """No hyperparameters: the embeddings are the model."""


class ContentScorer(Recommender):
    """Cosine between a history's mean embedding and every item's (``content``)."""

    name = "content"
    Config = ContentConfig
    config: ContentConfig

    def __init__(self, embeddings: np.ndarray | ModelConfig | None = None, config: ModelConfig | None = None,
                 **overrides: Any) -> None:
        if isinstance(embeddings, ModelConfig):  # Recommender.load passes the config first
            embeddings, config = None, embeddings
        super().__init__(config, **overrides)
        self.embeddings = None if embeddings is None else _unit(np.asarray(embeddings, dtype=np.float32))

    def _embeddings(self) -> np.ndarray:
        assert self.embeddings is not None, "checked by fit"
        return self.embeddings

    def _fit(self, data: TrainData) -> None:
        if self.embeddings is None:
            raise ModelError("ContentScorer has no item embeddings: pass ContentScorer(embeddings) with one "
                             "row per item, e.g. a text encoder's vectors of TrainData.item_text")
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != self.n_items:
            raise ModelError(f"the embeddings have shape {self.embeddings.shape}, but the data has {self.n_items} "
                             "items: give one row per item, in item-index order")

    def score(self, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        hist = as_histories(histories)
        self._check_items(hist.items)
        emb = self._embeddings()
        profile = _unit(np.asarray(history_matrix(hist, self.n_items) @ emb))  # (B, D)
        return (profile @ emb.T).astype(np.float32)  # (B, I)

    def similar_items(self, items: np.ndarray | list[int], n: int = 10) -> ScoredItems:
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        self._check_items(items)
        emb = self._embeddings()
        return ScoredItems.from_scores(emb[items] @ emb.T, n,
                                       exclude=[np.array([i]) for i in items])

    def _save(self, directory: Path) -> None:
        save_arrays(directory, embeddings=self._embeddings())

    def _load(self, directory: Path) -> None:
        self.embeddings = load_arrays(directory, "embeddings")["embeddings"]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
