"""The one scored-list type shared by search, recommenders, rankers and bandits.

Inside ShopSage every item and user is a contiguous ``int32`` index (see :mod:`shopsage.vocab`);
results are batch-first arrays ``ids`` of shape ``(B, n)`` and ``scores`` of the same shape, like
faiss' ``(D, I)``. Rows shorter than ``n`` are padded with id ``-1`` and score ``-inf``.

:class:`Reason` is why an item is in a list, the same for search and recommendations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ScoredItems", "PAD_ID", "Reason"]

PAD_ID = -1


@dataclass(frozen=True)
class ScoredItems:
    """A batch of ranked item lists: ``ids[b, r]`` is the item at rank ``r`` of query ``b``."""

    ids: np.ndarray  # (B, n) int32, PAD_ID where a row has fewer than n results
    scores: np.ndarray  # (B, n) float32, -inf on padding

    def __post_init__(self) -> None:
        assert self.ids.shape == self.scores.shape, (self.ids.shape, self.scores.shape)
        assert self.ids.ndim == 2, self.ids.shape

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def row(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """The unpadded ``(ids, scores)`` of row ``b``."""
        keep = self.ids[b] != PAD_ID
        return self.ids[b][keep], self.scores[b][keep]

    @classmethod
    def from_scores(cls, scores: np.ndarray, n: int, exclude: list[np.ndarray] | None = None) -> ScoredItems:
        """Top ``n`` of a dense ``(B, n_items)`` score matrix, best first.

        ``exclude[b]`` lists item ids that must not appear in row ``b`` (for instance items the
        user has already bought).
        """
        scores = np.array(scores, dtype=np.float32, copy=True)
        if scores.ndim == 1:
            scores = scores[None, :]
        if exclude is not None:
            for b, ex in enumerate(exclude):
                if len(ex):
                    scores[b, np.asarray(ex, dtype=np.int64)] = -np.inf
        n_items = scores.shape[1]
        k = min(n, n_items)
        if k == 0:
            empty = np.full((scores.shape[0], n), PAD_ID, dtype=np.int32)
            return cls(empty, np.full(empty.shape, -np.inf, dtype=np.float32))
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        ids = np.take_along_axis(part, order, axis=1).astype(np.int32)
        top = np.take_along_axis(part_scores, order, axis=1)
        ids[~np.isfinite(top)] = PAD_ID
        return cls._pad(ids, top, n)

    @classmethod
    def _pad(cls, ids: np.ndarray, scores: np.ndarray, n: int) -> ScoredItems:
        if ids.shape[1] < n:
            extra = n - ids.shape[1]
            ids = np.pad(ids, ((0, 0), (0, extra)), constant_values=PAD_ID)
            scores = np.pad(scores, ((0, 0), (0, extra)), constant_values=-np.inf)
        return cls(ids.astype(np.int32), scores.astype(np.float32))

    @classmethod
    def from_rows(cls, rows: list[tuple[np.ndarray, np.ndarray]], n: int) -> ScoredItems:
        """Stack ragged ``(ids, scores)`` rows (already ranked) into one padded batch."""
        ids = np.full((len(rows), n), PAD_ID, dtype=np.int32)
        scores = np.full((len(rows), n), -np.inf, dtype=np.float32)
        for b, (r_ids, r_scores) in enumerate(rows):
            m = min(n, len(r_ids))
            ids[b, :m] = r_ids[:m]
            scores[b, :m] = r_scores[:m]
        return cls(ids, scores)


@dataclass(frozen=True)
class Reason:
    """Why an item is in a list: the ``stage`` that put or moved it there (search, candidates,
    ranking, personalization, rules, diversity, fallback), its ``source`` (the search mode, generator,
    model or rule), a ``text`` a shopper can read and the machine-readable ``evidence`` (the matched
    words, the item a shopper viewed, counts...). Evidence must always be the true one: tests
    recompute it from the data."""

    stage: str
    source: str
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "source": self.source, "text": self.text, "evidence": self.evidence}
