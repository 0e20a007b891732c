from __future__ import annotations

import numpy as np
import pytest

from shopsage.errors import ValidationError
from shopsage.search import reciprocal_rank_fusion, weighted_fusion
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
