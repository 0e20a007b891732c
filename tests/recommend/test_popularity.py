"""Popularity: counts, distinct buyers and time decay by hand."""

from __future__ import annotations

import numpy as np

from shopsage.data.splits import Sequences
from shopsage.recommend import Popularity
from shopsage.recommend.base import TrainData

SEQS = Sequences.from_lists([[0, 0, 0, 1], [1, 2], [1]])  # events: 0 x3, 1 x3, 2 x1; buyers: 0:1, 1:3, 2:1


def test_counts_distinct_buyers_or_events() -> None:
    np.testing.assert_array_equal(Popularity().fit(TrainData(4, SEQS)).popularity, [1, 3, 1, 0])
    np.testing.assert_array_equal(Popularity(distinct=False).fit(TrainData(4, SEQS)).popularity, [3, 3, 1, 0])


def test_time_decay_halves_per_half_life() -> None:
    day = 86_400.0
    ts = np.array([0, 0, 0, 0, 10, 10, 10], dtype=np.float64) * day  # sequence 0 is old
    m = Popularity(half_life_days=5.0, distinct=False).fit(TrainData(4, SEQS, ts=ts))
    # item 0: three events at age 10 days (weight 0.25 each) -> 0.75; item 1: 0.25 + 1 + 1 = 2.25
    np.testing.assert_allclose(m.popularity, [0.75, 2.25, 1.0, 0.0])
    assert m.recommend([[3]], n=1).ids[0, 0] == 1


def test_no_decay_without_timestamps() -> None:
    ts = np.full(7, np.nan)
    m = Popularity(half_life_days=5.0, distinct=False).fit(TrainData(4, SEQS, ts=ts))
    np.testing.assert_array_equal(m.popularity, [3, 3, 1, 0])


def test_fast_recommend_equals_the_dense_top_n() -> None:
    rng = np.random.default_rng(3)
    seqs = Sequences.from_lists([rng.choice(40, size=int(rng.integers(1, 8)), replace=False) for _ in range(200)])
    m = Popularity(distinct=False).fit(TrainData(50, seqs))
    m.popularity += np.linspace(0, 0.5, 50, dtype=np.float32)  # no ties: one right answer
    hist = [seqs[i] for i in range(20)]
    exclude = [rng.choice(50, size=3, replace=False) for _ in range(20)]
    for fs in (True, False):
        fast = m.recommend(hist, n=60, exclude=exclude, filter_seen=fs)
        dense = super(Popularity, m).recommend(hist, n=60, exclude=exclude, filter_seen=fs)
        np.testing.assert_array_equal(fast.ids, dense.ids)
        np.testing.assert_array_equal(fast.scores, dense.scores)
