"""The position-based click model: examination by position, attraction by relevance, IPS weights."""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.rank.clicks import ClickModelConfig, PositionBasedClicks


def test_examination_is_the_power_law_and_zero_beyond_the_shown_items() -> None:
    pbm = PositionBasedClicks(ClickModelConfig(eta=1.0, shown=5))
    assert pbm.examination(np.arange(1, 8)).tolist() == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 0, 0])
    steep = PositionBasedClicks(ClickModelConfig(eta=2.0, shown=5))
    assert steep.examination(np.array([2, 3])).tolist() == pytest.approx([1 / 4, 1 / 9])
    flat = PositionBasedClicks(ClickModelConfig(eta=0.0, shown=3))
    assert flat.examination(np.array([1, 3, 4])).tolist() == [1.0, 1.0, 0.0]


def test_attraction_goes_from_the_noise_to_one() -> None:
    pbm = PositionBasedClicks(ClickModelConfig(epsilon=0.1, max_relevance=2.0))
    a = pbm.attraction(np.array([0.0, 1.0, 2.0, 5.0]))
    assert a.tolist() == pytest.approx([0.1, 0.1 + 0.9 * 1 / 3, 1.0, 1.0])  # (2^r - 1) / (2^2 - 1), clipped


def test_simulated_click_through_by_position_matches_the_model() -> None:
    """Every item relevant: the observed CTR at position k tends to (1/k)^eta; irrelevant ones to epsilon (1/k)^eta."""
    cfg = ClickModelConfig(eta=1.0, shown=10, epsilon=0.05, impressions=1, seed=3)
    pbm = PositionBasedClicks(cfg)
    runs = 40_000
    relevant = np.mean([pbm.simulate(np.ones(10)) for _ in range(runs)], axis=0)
    expected = 1.0 / np.arange(1, 11)
    assert np.abs(relevant - expected).max() < 4 * np.sqrt(0.25 / runs)
    irrelevant = np.mean([pbm.simulate(np.zeros(12)) for _ in range(runs)], axis=0)
    assert np.abs(irrelevant[:10] - 0.05 * expected).max() < 4 * np.sqrt(0.05 / runs)
    assert irrelevant[10:].sum() == 0  # never shown, never clicked
    assert pbm.expected_ctr(np.ones(3)).tolist() == pytest.approx([1.0, 0.5, 1 / 3])


def test_inverse_propensity_weights_make_every_position_count_alike() -> None:
    """E[clicks(k) * w(k)] is the same for a relevant item at any examined position (unbiased), until the clip."""
    pbm = PositionBasedClicks(ClickModelConfig(eta=1.0, shown=20, epsilon=0.0, max_weight=8.0))
    k = np.arange(1, 21)
    weighted = pbm.examination(k) * pbm.weights(k)
    assert weighted[:8].tolist() == pytest.approx([1.0] * 8)
    assert weighted[8:].tolist() == pytest.approx((8.0 / k[8:]).tolist())  # clipped: biased, bounded variance
    assert pbm.weights(np.array([21, 0])).tolist() == [0.0, 0.0]
