"""Weighted hybrid of two recommenders: ``alpha · collaborative + (1 - alpha) · content``.

Raw scores of different models live on different scales (cosine sums, regression outputs, dot
products), so each side is first normalised per history (per row of the ``(B, I)`` score matrix):

- ``minmax``: ``(s - min) / (max - min)`` over the row, into [0, 1] (a constant row becomes 0);
- ``zscore``: ``(s - mean) / std`` over the row (a constant row becomes 0);
- ``rank``: ``1 - rank / I`` with rank 0 for the best item (ties share the lower rank), in (0, 1];
- ``none``: raw scores (only when both sides are already on one scale).

Either side can be any :class:`Recommender`, e.g. ``Hybrid(ItemKNN(), ContentScorer(emb))``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from shopsage.artifacts import atomic_write_text
from shopsage.data.splits import Sequences
from shopsage.errors import ArtifactError
from shopsage.recommend.base import ModelConfig, Recommender, TrainData, as_histories

__all__ = ["HybridConfig", "Hybrid", "normalize_scores"]


class HybridConfig(ModelConfig):
    alpha: float = Field(0.5, ge=0.0, le=1.0)
    """Weight of the collaborative side; 1 - alpha goes to the content side."""
    normalization: Literal["minmax", "zscore", "rank", "none"] = "minmax"
    """Per-history score normalisation applied to each side before blending (see the module doc)."""


def normalize_scores(scores: np.ndarray, how: str) -> np.ndarray:
    """Normalise each row of a ``(B, I)`` score matrix (``minmax``, ``zscore``, ``rank``, ``none``)."""
    s = np.asarray(scores, dtype=np.float32)
    if how == "none":
        return s
    if how == "minmax":
        lo, hi = s.min(axis=1, keepdims=True), s.max(axis=1, keepdims=True)
        return np.where(hi > lo, (s - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0).astype(np.float32)
    if how == "zscore":
        mu, sd = s.mean(axis=1, keepdims=True), s.std(axis=1, keepdims=True)
        return np.where(sd > 0, (s - mu) / np.where(sd > 0, sd, 1.0), 0.0).astype(np.float32)
    if how == "rank":
        order = np.sort(s, axis=1)[:, ::-1]  # descending
        better = np.stack([np.searchsorted(-order[b], -s[b], side="left") for b in range(len(s))]) if len(s) else s
        return (1.0 - better / s.shape[1]).astype(np.float32)
    raise ValueError(f"unknown normalization {how!r}")


class Hybrid(Recommender):
    """Blend of a collaborative and a content recommender (``hybrid``)."""

    name = "hybrid"
    Config = HybridConfig
    config: HybridConfig

    def __init__(self, collaborative: Recommender | ModelConfig | None = None, content: Recommender | None = None,
                 config: ModelConfig | None = None, **overrides: Any) -> None:
        if isinstance(collaborative, ModelConfig):  # Recommender.load passes the config first
            collaborative, config = None, collaborative
        super().__init__(config, **overrides)
        self.collaborative = collaborative
        self.content = content

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"alpha": trial.suggest_float("alpha", 0.0, 1.0),
                "normalization": trial.suggest_categorical("normalization", ["minmax", "zscore", "rank"])}

    def _parts(self) -> tuple[Recommender, Recommender]:
        if self.collaborative is None or self.content is None:
            raise ArtifactError("a Hybrid needs two recommenders: Hybrid(collaborative, content, alpha=...)")
        return self.collaborative, self.content

    def _fit(self, data: TrainData) -> None:
        for part in self._parts():
            part.fit(data)

    def score(self, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        hist = as_histories(histories)
        collab, content = self._parts()
        a, how = self.config.alpha, self.config.normalization
        return (a * normalize_scores(collab.score(hist), how)
                + (1.0 - a) * normalize_scores(content.score(hist), how)).astype(np.float32)

    def _save(self, directory: Path) -> None:
        collab, content = self._parts()
        collab.save(directory / "collaborative")
        content.save(directory / "content")
        atomic_write_text(directory / "parts.json", json.dumps({"collaborative": collab.name, "content": content.name}))

    def _load(self, directory: Path) -> None:
        from shopsage.recommend import model_class

        path = directory / "parts.json"
        if not path.is_file():
            raise ArtifactError(f"{path} is missing: the hybrid in {directory} is incomplete; save it again.")
        names = json.loads(path.read_text(encoding="utf-8"))
        self.collaborative = model_class(names["collaborative"]).load(directory / "collaborative")
        self.content = model_class(names["content"]).load(directory / "content")
