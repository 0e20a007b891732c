"""Most popular items, optionally with exponential time decay.

Each training event counts ``0.5 ** (age / half_life)`` where ``age`` is its distance in days
from the newest event of the training data; without ``half_life_days`` (or when the data has no
timestamps, only an order) every event counts 1. Every history gets the same ranking; seen items
are still excluded by ``recommend``. ``similar_items`` is the same popularity ranking (popularity
knows nothing of item-item relations): a fallback, not a similarity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from shopsage.artifacts import load_arrays, save_arrays
from shopsage.data.splits import Sequences
from shopsage.errors import ValidationError
from shopsage.recommend.base import ModelConfig, Recommender, TrainData, as_histories
from shopsage.types import ScoredItems

__all__ = ["PopularityConfig", "Popularity"]

DAY = 86_400.0


class PopularityConfig(ModelConfig):
    half_life_days: float | None = Field(None, gt=0.0)
    """Age in days at which an event counts half; None = no decay. Used only when every training
    event has a timestamp."""
    distinct: bool = True
    """Count each item once per sequence (number of buyers) rather than every event."""


class Popularity(Recommender):
    """Popularity baseline (``pop``)."""

    name = "pop"
    Config = PopularityConfig
    config: PopularityConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"distinct": trial.suggest_categorical("distinct", [True, False]),
                "half_life_days": trial.suggest_categorical("half_life_days", [None, 1.0, 7.0, 30.0, 180.0])}

    def _fit(self, data: TrainData) -> None:
        seqs = data.sequences
        weight = np.ones(len(seqs.items), np.float64)
        ts = None if data.ts is None else np.asarray(data.ts, np.float64)
        half_life = self.config.half_life_days
        if half_life is not None and ts is not None and len(ts) and not np.isnan(ts).any():
            weight = 0.5 ** ((ts.max() - ts) / DAY / half_life)  # age in days, halved per half-life
        if self.config.distinct:  # one count per (sequence, item): the most recent, largest weight
            owner = np.repeat(np.arange(len(seqs), dtype=np.int64), seqs.lengths)
            key = owner * self.n_items + seqs.items
            order = np.lexsort((weight, key))
            last = np.r_[key[order][1:] != key[order][:-1], True]
            items, weight = seqs.items[order][last], weight[order][last]
        else:
            items = seqs.items
        counts = np.bincount(items, weights=weight, minlength=self.n_items)
        self.popularity = counts.astype(np.float32)

    def recommend(self, histories: Sequences | list[np.ndarray], n: int = 10, *,
                  exclude: list[np.ndarray] | None = None, filter_seen: bool = True) -> ScoredItems:
        """Same answer as :meth:`Recommender.recommend`, without a dense ``(B, n_items)`` pass: every
        row walks the one precomputed ranking (ties: lower item index first)."""
        self._check_fitted()
        hist = as_histories(histories)
        self._check_items(hist.items)
        if n < 1:
            raise ValidationError(f"n of {n} must be at least 1")
        if exclude is not None and len(exclude) != len(hist):
            raise ValidationError(f"exclude has {len(exclude)} rows for {len(hist)} histories: give one per history")
        order = np.argsort(-self.popularity, kind="stable")
        rows = []
        for b in range(len(hist)):
            parts = ([np.asarray(exclude[b], np.int64)] if exclude is not None else []) + \
                ([hist[b].astype(np.int64)] if filter_seen else [])
            banned = np.concatenate(parts) if parts else np.zeros(0, np.int64)
            cand = order[:n + len(banned)]
            top = cand[~np.isin(cand, banned)][:n]
            rows.append((top, self.popularity[top]))
        return ScoredItems.from_rows(rows, n)

    def score(self, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        hist = as_histories(histories)
        self._check_items(hist.items)
        return np.broadcast_to(self.popularity, (len(hist), self.n_items)).copy()

    def _save(self, directory: Path) -> None:
        save_arrays(directory, popularity=self.popularity)

    def _load(self, directory: Path) -> None:
        self.popularity = load_arrays(directory, "popularity")["popularity"]
