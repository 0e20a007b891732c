"""Metrics against hand-computed cases and against ranx (an independent library) on the same lists."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from shopsage.data.splits import Sequences
from shopsage.errors import ValidationError
from shopsage.evaluate.metrics import (
    auc,
    coverage,
    intra_list_diversity,
    log_loss,
    novelty,
    per_row_metrics,
    popularity_bias,
    rank_auc,
    ranking_metrics,
)
from shopsage.types import ScoredItems

RANKED = np.array([[3, 1, 2, 0], [0, 1, 2, 3], [2, -1, -1, -1]], dtype=np.int32)
TARGETS = [[1], [2, 3], [5]]


def test_hand_computed_at_4() -> None:
    got = per_row_metrics(RANKED, TARGETS, k=4)
    l3, l4, l5 = math.log2(3), math.log2(4), math.log2(5)
    expected = {
        "hr": [1, 1, 0],
        "recall": [1, 1, 0],
        "precision": [0.25, 0.5, 0],
        "f1": [2 * 0.25 / 1.25, 2 * 0.5 / 1.5, 0],
        "ndcg": [1 / l3, (1 / l4 + 1 / l5) / (1 + 1 / l3), 0],
        "mrr": [0.5, 1 / 3, 0],
        "map": [0.5, (1 / 3 + 2 / 4) / 2, 0],
    }
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-12, err_msg=name)


def test_hand_computed_at_2_and_means() -> None:
    got = ranking_metrics(ScoredItems(RANKED, np.zeros(RANKED.shape, np.float32)), TARGETS, ks=(2,))
    assert got["hr@2"] == pytest.approx(1 / 3)
    assert got["precision@2"] == pytest.approx(0.5 / 3)
    assert got["ndcg@2"] == pytest.approx(1 / math.log2(3) / 3)
    assert got["mrr@2"] == pytest.approx(0.5 / 3)
    assert set(got) == {f"{m}@2" for m in ("hr", "recall", "precision", "f1", "ndcg", "mrr", "map")}


def test_single_target_array_equals_target_lists_and_duplicates_count_once() -> None:
    ids = np.array([[4, 2, 9], [1, 2, 3]])
    a = ranking_metrics(ids, np.array([2, 7]), ks=(3,))
    b = ranking_metrics(ids, Sequences.from_lists([[2], [7]]), ks=(3,))
    c = ranking_metrics(ids, [[2, 2], [7]], ks=(3,))  # a repeated target is one relevant item
    assert a == b == c
    assert a["hr@3"] == 0.5 and a["ndcg@3"] == pytest.approx(0.5 / math.log2(3))


def test_padding_never_hits_and_bad_k_is_refused() -> None:
    got = per_row_metrics(np.array([[-1, -1]]), [[0]], k=2)
    assert got["hr"][0] == 0.0
    with pytest.raises(ValidationError, match="larger than"):
        per_row_metrics(np.array([[1, 2]]), [[1]], k=3)
    with pytest.raises(ValidationError, match="target rows"):
        per_row_metrics(np.array([[1, 2]]), [[1], [2]], k=2)
    with pytest.raises(ValidationError, match="unknown ranking metrics"):
        per_row_metrics(np.array([[1, 2]]), [[1]], k=2, metrics=["p@k"])


def test_agrees_with_ranx_on_random_lists() -> None:
    ranx = pytest.importorskip("ranx")
    rng = np.random.default_rng(7)
    n_rows, n_items, depth = 60, 40, 20
    ranked = np.stack([rng.permutation(n_items)[:depth] for _ in range(n_rows)]).astype(np.int32)
    targets = [rng.choice(n_items, size=rng.integers(1, 6), replace=False) for _ in range(n_rows)]
    qrels = ranx.Qrels({f"q{b}": {f"d{i}": 1 for i in t} for b, t in enumerate(targets)})
    run = ranx.Run({f"q{b}": {f"d{i}": float(depth - r) for r, i in enumerate(ranked[b])} for b in range(n_rows)})
    names = {"hr": "hit_rate", "recall": "recall", "precision": "precision", "f1": "f1", "ndcg": "ndcg",
             "mrr": "mrr", "map": "map"}
    for k in (1, 5, 10, 20):
        ours = ranking_metrics(ranked, Sequences.from_lists(targets), ks=(k,))
        theirs = ranx.evaluate(qrels, run, [f"{v}@{k}" for v in names.values()])
        for ours_name, ranx_name in names.items():
            assert ours[f"{ours_name}@{k}"] == pytest.approx(theirs[f"{ranx_name}@{k}"], abs=1e-9), (ours_name, k)


def test_auc_and_log_loss_by_hand() -> None:
    # positives 0.8, 0.4; negatives 0.4, 0.1 -> pairs: (0.8>0.4), (0.8>0.1), (0.4=0.4 half), (0.4>0.1) = 3.5/4
    assert auc(np.array([1, 1, 0, 0]), np.array([0.8, 0.4, 0.4, 0.1])) == pytest.approx(0.875)
    assert auc(np.array([0, 1]), np.array([0.9, 0.1])) == 0.0
    with pytest.raises(ValidationError, match="positive and one negative"):
        auc(np.array([1, 1]), np.array([0.3, 0.2]))
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4)) / 3
    assert log_loss(np.array([1, 0, 1]), np.array([0.9, 0.2, 0.4])) == pytest.approx(expected)
    assert log_loss(np.array([1]), np.array([0.0])) == pytest.approx(-math.log(1e-15))


def test_rank_auc_matches_binary_auc_and_respects_exclusion() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(5, 30)).round(1)  # rounding makes ties
    target = rng.integers(0, 30, size=5)
    got = rank_auc(scores, target)
    for b in range(5):
        labels = np.zeros(30)
        labels[target[b]] = 1
        assert got[b] == pytest.approx(auc(labels, scores[b]))
    s = np.array([[5.0, 4.0, 3.0, 1.0]])  # target 2 (3.0): below it only item 3 of the candidates {1, 3}
    assert rank_auc(s, np.array([2]), [np.array([0, 2])])[0] == pytest.approx(0.5)


def test_beyond_accuracy_by_hand() -> None:
    ranked = np.array([[0, 1], [0, 2], [3, -1]])
    assert coverage(ranked, n_items=5, k=2) == pytest.approx(4 / 5)
    counts = np.array([4, 2, 1, 0, 3])  # training users per item, out of 4
    # novelty: -log2 p over the 5 recommended items; item 3 (never seen) counts as 1 user of 4
    expect_nov = -(np.log2(1.0) * 2 + np.log2(0.5) + np.log2(0.25) + np.log2(0.25)) / 5
    assert novelty(ranked, counts, n_users=4, k=2) == pytest.approx(expect_nov)
    # ARP: list means of popularity shares (1+0.5)/2, (1+0.25)/2, 0/1
    assert popularity_bias(ranked, counts, n_users=4, k=2) == pytest.approx((0.75 + 0.625 + 0.0) / 3)


def test_intra_list_diversity_dense_and_sparse_agree() -> None:
    vec = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    ranked = np.array([[0, 1, 3], [0, 3, -1], [2, -1, -1]])
    # list 0: pairs (0,1) d=1, (0,3) d=0, (1,3) d=1 -> 2/3; list 1: (0,3) d=0; list 2: no pair (skipped)
    dense = intra_list_diversity(ranked, vec, k=3)
    assert dense == pytest.approx((2 / 3 + 0.0) / 2)
    assert intra_list_diversity(ranked, sp.csr_matrix(vec), k=3) == pytest.approx(dense)
    assert intra_list_diversity(ranked, vec, k=3, batch_size=1) == pytest.approx(dense)
