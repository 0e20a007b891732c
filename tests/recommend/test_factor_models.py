"""ALS and BPR: scoring a history recomputes (folds in) its user factor."""

from __future__ import annotations

import numpy as np

from shopsage.data.splits import Sequences
from shopsage.recommend import ALS, BPR
from shopsage.testing.recommender_contract import group_data


def test_als_user_factor_is_the_exact_least_squares_step() -> None:
    m = ALS(embedding_dim=4, reg=0.5, alpha=7.0, epochs=5, seed=0, num_threads=1).fit(group_data())
    hist = [3, 1, 3]
    y = m.item_factors.astype(np.float64)
    c = 7.0  # confidence of each (distinct) history item
    yh = y[[1, 3]]
    a = y.T @ y + 0.5 * np.eye(4) + (c - 1) * yh.T @ yh
    x = np.linalg.solve(a, c * yh.sum(axis=0))
    got = m.user_factors(Sequences.from_lists([hist]))[0]
    np.testing.assert_allclose(got, x, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(m.score(Sequences.from_lists([hist]))[0], y @ x, rtol=1e-3, atol=1e-4)


def test_bpr_fold_in_ranks_the_history_group_first_and_is_deterministic() -> None:
    m = BPR(embedding_dim=8, learning_rate=0.05, reg=0.001, epochs=200, seed=0, num_threads=1).fit(group_data())
    x1 = m.user_factors(Sequences.from_lists([[8, 9], [0]]))
    x2 = m.user_factors(Sequences.from_lists([[0], [8, 9]]))
    np.testing.assert_array_equal(x1[0], x2[1])
    scores = m.score(Sequences.from_lists([[8, 9]]))[0]
    assert set(np.argsort(-scores)[:4].tolist()) == {8, 9, 10, 11}
    assert np.all(m.user_factors(Sequences.from_lists([[]])) == 0)
