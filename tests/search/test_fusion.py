from __future__ import annotations

import numpy as np
import pytest

from shopsage.errors import ValidationError
from shopsage.search import reciprocal_rank_fusion, weighted_fusion
from shopsage.search.fusion import fuse_ranked, rrf_term
from shopsage.types import ScoredItems


def _si(ids, scores) -> ScoredItems:
    return ScoredItems(np.array([ids], np.int32), np.array([scores], np.float32))


def test_rrf_hand_computed() -> None:
    a = _si([1, 2, 3], [9, 8, 7])
    b = _si([3, 1, -1], [0.9, 0.5, -np.inf])
    fused = reciprocal_rank_fusion([a, b], n=4, k=1)
    ids, scores = fused.row(0)
    # item 1: 1/2 + 1/3; item 3: 1/4 + 1/2; item 2: 1/3
    assert ids.tolist() == [1, 3, 2]
    np.testing.assert_allclose(scores, [1 / 2 + 1 / 3, 1 / 4 + 1 / 2, 1 / 3], rtol=1e-6)


def test_weighted_fusion_normalizes_each_list() -> None:
    a = _si([1, 2, 3], [100, 50, 0])  # -> 1, .5, 0
    b = _si([3, 2], [0.2, 0.1])  # -> 1, 0
    ids, scores = weighted_fusion([a, b], n=3, weights=[0.5, 0.5]).row(0)
    assert ids.tolist() == [1, 3, 2]
    np.testing.assert_allclose(scores, [0.5, 0.5, 0.25])


def test_fusion_checks_its_inputs() -> None:
    a = _si([1], [1.0])
    with pytest.raises(ValidationError, match="one weight per list"):
        reciprocal_rank_fusion([a, a], weights=[1.0])
    two = ScoredItems(np.zeros((2, 1), np.int32), np.zeros((2, 1), np.float32))
    with pytest.raises(ValidationError, match="same queries"):
        weighted_fusion([a, two])


def test_fuse_ranked_hand_computed_with_weights_ties_and_padding() -> None:
    ids, scores = fuse_ranked([np.array([4, 2, -1]), np.array([2, 9])], weights=[2.0, 1.0], k=1)
    # item 4: 2/2; item 2: 2/3 + 1/2; item 9: 1/3 (the padding adds nothing)
    assert ids.tolist() == [2, 4, 9]
    np.testing.assert_allclose(scores, [2 / 3 + 1 / 2, 1.0, 1 / 3], rtol=1e-15)
    ids, _ = fuse_ranked([np.array([7, 3]), np.array([3, 7])], k=60)  # equal scores: the smaller id first
    assert ids.tolist() == [3, 7]
    assert rrf_term(0, 60.0, 2.0) == 2.0 / 61
    empty_ids, empty_scores = fuse_ranked([])
    assert len(empty_ids) == 0 and len(empty_scores) == 0
    with pytest.raises(ValidationError, match="one weight per list"):
        fuse_ranked([np.array([1])], weights=[1.0, 2.0])


def test_rrf_of_a_batch_is_fuse_ranked_of_each_row() -> None:
    rng = np.random.default_rng(0)
    lists = [ScoredItems.from_rows([(rng.permutation(20)[:m], np.zeros(m, np.float32)) for m in (0, 5, 12)], 12)
             for _ in range(3)]
    fused = reciprocal_rank_fusion(lists, n=6, k=10.0, weights=[1.0, 0.5, 2.0])
    for b in range(3):
        ids, scores = fuse_ranked([x.ids[b] for x in lists], [1.0, 0.5, 2.0], 10.0)
        got_ids, got_scores = fused.row(b)
        assert got_ids.tolist() == ids[:6].tolist()
        np.testing.assert_array_equal(got_scores, scores[:6].astype(np.float32))
