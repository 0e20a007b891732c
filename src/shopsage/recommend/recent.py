"""Recently viewed: the history's own items, newest first.

A storefront's "recently viewed" row, and the repeat signal of session recommendation (a fifth of
Diginetica's next clicks are an item already in the session, a tenth the very last one). For a
history ``h`` (oldest first, length ``L``) item ``i`` scores ``sum(decay ** (L - 1 - p))`` over the
positions ``p`` where ``h[p] == i``; items outside the history score 0. Nothing is learned from the
training data. Its answers are the history itself, so ask with ``filter_seen=False`` or blend it
into another model with :class:`~shopsage.recommend.Hybrid` (a repeat boost).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from shopsage.data.splits import Sequences
from shopsage.recommend.base import ModelConfig, Recommender, TrainData, as_histories

__all__ = ["RecentConfig", "RecentItems"]


class RecentConfig(ModelConfig):
    decay: float = Field(0.5, gt=0.0, le=1.0)
    """Weight of an occurrence per step back from the newest item (1 = every occurrence counts 1)."""
    max_len: int | None = Field(None, ge=1)
    """Only the last ``max_len`` items of a history count; None = all of them."""


class RecentItems(Recommender):
    """The history's own items by recency (``recent``)."""

    name = "recent"
    Config = RecentConfig
    config: RecentConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"decay": trial.suggest_float("decay", 0.1, 1.0)}

    def _fit(self, data: TrainData) -> None:
        """Nothing to learn: only the catalogue size (set by ``fit``) is kept."""

    def score(self, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        hist = as_histories(histories)
        self._check_items(hist.items)
        out = np.zeros((len(hist), self.n_items), dtype=np.float32)
        lengths = hist.lengths.astype(np.int64)
        if not len(hist.items):
            return out
        row = np.repeat(np.arange(len(hist)), lengths)
        back = np.repeat(hist.indptr[1:].astype(np.int64), lengths) - 1 - np.arange(len(hist.items))  # steps from newest
        keep = back < (self.config.max_len or np.iinfo(np.int64).max)
        np.add.at(out, (row[keep], hist.items[keep].astype(np.int64)), self.config.decay ** back[keep].astype(np.float64))
        return out

    def _save(self, directory: Path) -> None:
        """The config (in the manifest) is the whole model."""

    def _load(self, directory: Path) -> None:
        """The config (in the manifest) is the whole model."""
