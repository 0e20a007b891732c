"""Item-kNN, FBT and EASE against hand-computed weights; explanations with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.data.splits import Sequences
from shopsage.errors import CapacityError
from shopsage.recommend import EASE, FBT, ItemKNN
from shopsage.recommend.base import TrainData


def data(seqs: list[list[int]], n_items: int) -> TrainData:
    return TrainData(n_items, Sequences.from_lists(seqs))


SMALL = data([[0, 1], [1, 0], [0, 2], [1]], 4)  # support: 0 -> 3, 1 -> 3, 2 -> 1, 3 -> 0


def test_itemknn_cosine_with_shrinkage_by_hand() -> None:
    w = ItemKNN(shrink=1.0).fit(SMALL).weights.toarray()
    assert w[0, 1] == pytest.approx(2 / (np.sqrt(3) * np.sqrt(3) + 1))
    assert w[0, 2] == pytest.approx(1 / (np.sqrt(3) * 1 + 1))
    assert w[1, 2] == 0 and np.all(np.diag(w) == 0) and np.all(w[3] == 0)
    np.testing.assert_allclose(w, w.T)
    unshrunk = ItemKNN(shrink=0.0).fit(SMALL).weights.toarray()
    assert unshrunk[0, 1] == pytest.approx(2 / 3)


def test_itemknn_keeps_top_neighbors_per_item() -> None:
    w = ItemKNN(neighbors=1, shrink=1.0).fit(SMALL).weights.toarray()
    assert np.count_nonzero(w[0]) == 1 and w[0, 1] > 0  # item 1 beats item 2 as neighbour of 0


def test_itemknn_scores_sum_over_history() -> None:
    m = ItemKNN(shrink=1.0).fit(SMALL)
    s = m.score(Sequences.from_lists([[0, 1]]))[0]
    w = m.weights.toarray()
    np.testing.assert_allclose(s, w[0] + w[1], rtol=1e-6)


def test_itemknn_explain_names_the_strongest_history_item() -> None:
    m = ItemKNN(shrink=1.0).fit(SMALL)
    got = m.explain([2, 1], [0, 3])
    assert got[0][0] == 1 and got[0][1] == pytest.approx(0.5)  # 1->0: 0.5 beats 2->0: 0.366
    assert got[1] == (-1, 0.0)  # nothing in the history speaks for item 3
    assert m.explain([], [0]) == [(-1, 0.0)]


def test_fbt_count_confidence_and_lift_by_hand() -> None:
    d = data([[0, 1], [0, 1, 2], [0, 2], [3]], 4)  # N = 4; c0 = 3, c1 = 2, c2 = 2; c01 = 2, c02 = 2, c12 = 1
    count = FBT(measure="count", min_support=1).fit(d).weights.toarray()
    assert (count[0, 1], count[0, 2], count[1, 2], count[1, 0]) == (2, 2, 1, 2)
    conf = FBT(measure="confidence", min_support=1).fit(d).weights.toarray()
    assert conf[0, 1] == pytest.approx(2 / 3) and conf[1, 0] == pytest.approx(1.0)
    lift = FBT(measure="lift", min_support=1).fit(d).weights.toarray()
    assert lift[1, 2] == pytest.approx(1 * 4 / (2 * 2))
    strict = FBT(measure="count", min_support=2).fit(d).weights.toarray()
    assert strict[1, 2] == 0 and strict[0, 1] == 2


def test_fbt_window_counts_only_near_pairs() -> None:
    d = data([[0, 1, 2, 3], [0, 1]], 4)
    w = FBT(measure="count", window=1, min_support=1).fit(d).weights.toarray()
    assert (w[0, 1], w[1, 2], w[2, 3]) == (2, 1, 1)
    assert w[0, 2] == 0 and w[0, 3] == 0 and w[1, 3] == 0
    w2 = FBT(measure="count", window=2, min_support=1).fit(d).weights.toarray()
    assert w2[0, 2] == 1 and w2[0, 3] == 0


def test_fbt_explain_and_similar_items() -> None:
    d = data([[0, 1], [0, 1], [2, 3], [0, 3]], 4)
    m = FBT(measure="count", min_support=1).fit(d)
    assert m.explain([0, 2], [1, 3]) == [(0, 2.0), (2, 1.0)]  # tie 0->3 / 2->3: the newer history item
    ids, scores = m.similar_items([0], n=3).row(0)
    assert ids.tolist() == [1, 3] and scores.tolist() == [2.0, 1.0]  # item 2 never with 0: not similar


def test_ease_matches_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    seqs = [rng.choice(12, size=int(rng.integers(2, 6)), replace=False).tolist() for _ in range(60)]
    d = data(seqs, 12)
    x = d.user_item().toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(12))
    b = np.eye(12) - p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    np.testing.assert_allclose(EASE(reg=5.0).fit(d).weights, b, rtol=1e-3, atol=1e-5)


def test_ease_refuses_large_catalogues_with_a_way_out() -> None:
    with pytest.raises(CapacityError, match="itemknn or als") as err:
        EASE(max_items=3).fit(SMALL)
    assert "max_items=3" in str(err.value) and "4 items" in str(err.value)
