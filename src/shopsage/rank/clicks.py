"""A position-based click model: simulated feedback where a data set has no exposures.

The position-based model (PBM; Richardson et al. 2007, Chuklin et al. "Click Models for Web Search"
2015) says a shopper clicks the item at 1-based position ``k`` of a shown list when they *examine*
that position and find the item *attractive*, two independent events:

    P(click | k, item) = exam(k) * attract(relevance(item))
    exam(k)            = (1 / k) ** eta        for k <= shown, else 0
    attract(r)         = epsilon + (1 - epsilon) * (2 ** r - 1) / (2 ** r_max - 1)

``eta`` (1.0 by default, the value Joachims et al. 2017 fit on real search logs) sets how fast
attention falls; ``epsilon`` is the click noise on irrelevant items. Relevance comes from real data:
the item a shopper chose next in their history (``r = r_max``, everything else ``0``) or a judged
grade (Home Depot).

Position bias is undone by inverse propensity weighting (Joachims, Swaminathan and Schnabel,
"Unbiased Learning-to-Rank with Biased Feedback", WSDM 2017): a click at position ``k`` counts
``1 / exam(k)`` (clipped at ``max_weight`` to bound the variance), so in expectation every relevant
item counts as if each position were examined. A ranker trained this way never reads the position.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClickModelConfig", "PositionBasedClicks"]


class ClickModelConfig(BaseModel):
    """The simulated shopper: how far down a list they look and what they click."""

    model_config = ConfigDict(extra="forbid")

    eta: float = Field(1.0, ge=0)
    """Examination ``(1/k) ** eta`` at 1-based position ``k`` (0: every shown position examined)."""
    shown: int = Field(20, ge=1, le=1000)
    """Items of each simulated list that are shown (positions beyond it are never examined)."""
    epsilon: float = Field(0.02, ge=0, le=1)
    """Click probability of an examined irrelevant item (noise)."""
    max_relevance: float = Field(1.0, gt=0)
    """The relevance of a perfect item (it is clicked whenever examined)."""
    impressions: int = Field(10, ge=1, le=100_000)
    """Times each list is shown to the simulated shopper (independent clicks each time)."""
    max_weight: float = Field(20.0, ge=1)
    """Clip of the inverse-propensity weight ``1 / exam(k)``."""
    seed: int = 0


class PositionBasedClicks:
    """Examination by position, attraction by relevance; simulation and inverse-propensity weights."""

    def __init__(self, config: ClickModelConfig | None = None) -> None:
        self.config = config or ClickModelConfig.model_validate({})
        self.rng = np.random.default_rng(self.config.seed)

    def examination(self, positions: np.ndarray) -> np.ndarray:
        """``exam(k)`` of 1-based ``positions`` (0 beyond ``shown`` and for positions below 1)."""
        k = np.asarray(positions, dtype=np.float64)
        ok = (k >= 1) & (k <= self.config.shown)
        return np.where(ok, np.power(np.maximum(k, 1.0), -self.config.eta), 0.0)

    def attraction(self, relevance: np.ndarray) -> np.ndarray:
        """``attract(r)`` of relevance grades in ``[0, max_relevance]`` (clipped)."""
        c = self.config
        r = np.clip(np.asarray(relevance, dtype=np.float64), 0.0, c.max_relevance)
        return c.epsilon + (1.0 - c.epsilon) * (np.exp2(r) - 1.0) / (2.0 ** c.max_relevance - 1.0)

    def expected_ctr(self, relevance: np.ndarray) -> np.ndarray:
        """Click probability of each item of a list shown in this order (position ``i + 1``)."""
        rel = np.asarray(relevance, dtype=np.float64)
        return self.examination(np.arange(1, len(rel) + 1)) * self.attraction(rel)

    def simulate(self, relevance: np.ndarray) -> np.ndarray:
        """Clicks on each item of a list shown in this order, summed over ``impressions`` showings, ``(m,)`` int."""
        p = self.expected_ctr(relevance)
        return self.rng.binomial(self.config.impressions, p).astype(np.int64)

    def weights(self, positions: np.ndarray) -> np.ndarray:
        """Clipped inverse-propensity weights ``min(1 / exam(k), max_weight)`` of clicks at 1-based
        ``positions`` (0 where a position is never examined: no click can come from it)."""
        e = self.examination(positions)
        return np.where(e > 0, np.minimum(1.0 / np.maximum(e, 1e-12), self.config.max_weight), 0.0)
