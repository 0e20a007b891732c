from __future__ import annotations

import numpy as np

from shopsage.search._eval import JudgmentTable, ndcg_at_k, recall_at_k


def _table() -> JudgmentTable:
    # query 0: item 5 gain 2, item 7 gain 1; query 1: item 1 gain 0 only.
    return JudgmentTable(np.array([0, 0, 1]), np.array([5, 7, 1]), np.array([2.0, 1.0, 0.0]), 2)


def test_ndcg_hand_computed() -> None:
    ids = np.array([[7, 9, 5], [1, 2, 3]])
    nd = ndcg_at_k(ids, _table(), k=3)
    dcg = 1 / np.log2(2) + 2 / np.log2(4)
    idcg = 2 / np.log2(2) + 1 / np.log2(3)
    np.testing.assert_allclose(nd[0], dcg / idcg)
    assert np.isnan(nd[1])


def test_recall_counts_items_with_gain_at_least_one() -> None:
    ids = np.array([[5, -1, -1], [1, 2, 3]])
    rc = recall_at_k(ids, _table(), k=3)
    np.testing.assert_allclose(rc[0], 0.5)
    assert np.isnan(rc[1])

