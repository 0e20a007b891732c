"""Features of (shopper, candidate) pairs for the learned ranking stage of a scenario.

One builder serves training and serving: :class:`StageFeatures` turns a :class:`StageInput` (what
the pipeline knows about each fused candidate when it answers) into a ``(m, n_features)`` float32
matrix, and the serving stage and the training data both fill :class:`StageInput` with the same
function (``shopsage.serving.learned.stage_input``). A test checks that both paths give the same
rows.

Columns, per candidate:

- for each candidate generator of the scenario (in config order): its ``score`` min-max scaled within
  its own list (1 = its best, 0 = its worst: a retrained model's raw scale moves, the ranker must not
  read it; NaN when the item is not in its list: LightGBM's missing value) and its 1-based ``rank``
  (``RANK_MISSING`` when absent);
- ``lists`` (how many generators hold it), the fused reciprocal-rank score and rank;
- popularity: ``log1p`` of the stored and of the live interaction counts;
- freshness: the item's age in days (NaN when the catalogue does not date it);
- profile match: the share of the shopper's history in the item's leaf category and brand (NaN when
  the history holds no categories / brands), the item's log price against the shopper's usual band
  (``(log p - log median) / (log p75 - log p25)``, NaN without prices);
- text similarity: cosine of the item's text vector to the mean of the shopper's recent items' vectors
  (NaN when the service runs without a text encoder);
- the shopper's history length (``log1p``).

No feature reads the position an item was shown at: position bias is handled by inverse-propensity
weights at training (:mod:`shopsage.rank.clicks`), so nothing has to be neutralised at serving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FEATURES_VERSION", "RANK_MISSING", "StageInput", "StageFeatures"]

FEATURES_VERSION = 2
"""Bumped whenever a column's meaning changes (cached training features of another version are not reused)."""
RANK_MISSING = 1001.0
"""The rank of an item a generator did not return (beyond any generator's largest ``n``, 1000)."""


@dataclass
class StageInput:
    """What the pipeline knows about each of ``m`` fused candidates (all arrays ``(m,)``)."""

    slots: np.ndarray
    """The candidates' catalogue slots, in fused (reciprocal-rank) order."""
    fused: np.ndarray
    """Their fused reciprocal-rank scores."""
    lists: dict[str, tuple[np.ndarray, np.ndarray]]
    """Generator key -> (its slots best first, its scores); generators that did not run are absent."""
    stored_popularity: np.ndarray
    live_popularity: np.ndarray
    age_days: np.ndarray
    category_share: np.ndarray
    brand_share: np.ndarray
    price_z: np.ndarray
    text_similarity: np.ndarray
    history_length: int


def _positions(listed: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """The 0-based index of each of ``slots`` in ``listed`` (its first occurrence), -1 where absent."""
    if not len(listed):
        return np.full(len(slots), -1, np.int64)
    order = np.argsort(listed, kind="stable")  # equal slots keep list order: the first occurrence sorts first
    ordered = listed[order]
    at = np.minimum(np.searchsorted(ordered, slots, side="left"), len(ordered) - 1)
    return np.where(ordered[at] == slots, order[at], -1)


class StageFeatures:
    """The feature columns of a scenario whose candidate generators are ``generators`` (keys in config order)."""

    def __init__(self, generators: Sequence[str]) -> None:
        self.generators = list(generators)
        # "score/model/sasrec": LightGBM refuses JSON's special characters (':') in feature names
        self.names = ([f"{c}/{g.replace(':', '/')}" for g in self.generators for c in ("score", "rank")]
                      + ["lists", "fused_score", "fused_rank", "log_stored_popularity", "log_live_popularity",
                         "age_days", "category_share", "brand_share", "price_z", "text_similarity",
                         "log_history_length"])

    def compute(self, inp: StageInput) -> np.ndarray:
        """``(m, len(self.names))`` float32 features of ``inp``'s candidates."""
        slots = np.asarray(inp.slots, dtype=np.int64)
        m = len(slots)
        cols: list[np.ndarray] = []
        held = np.zeros(m, np.float32)
        for g in self.generators:
            score = np.full(m, np.nan, np.float32)
            rank = np.full(m, RANK_MISSING, np.float32)
            if g in inp.lists:
                gs, sc = inp.lists[g]
                idx = _positions(np.asarray(gs, dtype=np.int64), slots)
                hit = idx >= 0
                raw = np.asarray(sc, np.float64)
                lo, hi = (float(raw.min()), float(raw.max())) if len(raw) else (0.0, 0.0)
                scaled = (raw - lo) / (hi - lo) if hi > lo else np.ones_like(raw)
                score[hit] = scaled[idx[hit]]
                rank[hit] = idx[hit] + 1
                held += hit
            cols += [score, rank]
        cols += [held, np.asarray(inp.fused, np.float32), np.arange(1, m + 1, dtype=np.float32),
                 np.log1p(np.maximum(np.asarray(inp.stored_popularity, np.float32), 0)),
                 np.log1p(np.maximum(np.asarray(inp.live_popularity, np.float32), 0)),
                 inp.age_days, inp.category_share, inp.brand_share, inp.price_z, inp.text_similarity,
                 np.full(m, np.log1p(inp.history_length), np.float32)]
        out = np.column_stack([np.asarray(c, np.float32).reshape(m) for c in cols]) if m else np.zeros((0, len(self.names)), np.float32)
        assert out.shape == (m, len(self.names)), (out.shape, len(self.names))
        return out
