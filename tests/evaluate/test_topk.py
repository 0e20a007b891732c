"""The chunked top-k returns what a full sort returns: same scores, valid distinct ids, -inf never."""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.evaluate.topk import top_k
from shopsage.types import PAD_ID, ScoredItems


@pytest.mark.parametrize(("n", "k", "chunk"), [(1000, 20, 64), (130, 10, 64), (7, 10, 4), (50, 50, 8)])
def test_equals_full_sort_without_ties(n: int, k: int, chunk: int) -> None:
    rng = np.random.default_rng(n)
    scores = rng.normal(size=(33, n)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.3] = -np.inf  # excluded items
    got = top_k(scores, k, chunk)
    ref = ScoredItems.from_scores(scores, k)
    np.testing.assert_array_equal(got.ids, ref.ids)
    np.testing.assert_array_equal(got.scores, ref.scores)


def test_ties_give_the_right_scores_lowest_id_first() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, size=(20, 500)).astype(np.float32)  # heavy ties
    scores[0] = 1.0  # one row all equal
    got = top_k(scores, 15, chunk=16)
    expect = -np.sort(-scores, axis=1)[:, :15]
    np.testing.assert_array_equal(got.scores, expect)
    assert all(len(set(r)) == 15 for r in got.ids)
    np.testing.assert_array_equal(np.take_along_axis(scores, got.ids.astype(np.int64), axis=1), expect)
    assert got.ids[0].tolist() == list(range(15))


def test_all_excluded_rows_are_padding() -> None:
    scores = np.full((2, 10), -np.inf, dtype=np.float32)
    scores[1, 3] = 0.5
    got = top_k(scores, 3, chunk=4)
    assert got.ids.tolist() == [[PAD_ID] * 3, [3, PAD_ID, PAD_ID]]
