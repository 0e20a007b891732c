"""The one DCG/NDCG, recall and reciprocal rank (shopsage.ranking_metrics) against hand-computed
cases, and every caller (offline evaluation, the search benchmark, sequential early stopping, the
sampled protocol) giving those same hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopsage.data.splits import EvalCases, Sequences
from shopsage.evaluate.metrics import per_row_metrics
from shopsage.ranking_metrics import (
    binary_ideal_dcg,
    dcg,
    discounts,
    ndcg,
    ndcg_binary,
    recall,
    reciprocal_rank,
    target_rank_metrics,
)
from shopsage.search._eval import JudgmentTable, ndcg_at_k, recall_at_k

L3, L4, L5 = math.log2(3), math.log2(4), math.log2(5)


def test_discounts_and_graded_dcg_by_hand() -> None:
    np.testing.assert_allclose(discounts(4), [1, 1 / L3, 1 / L4, 1 / L5], rtol=1e-15)
    gains = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(dcg(gains), [1 + 2 / L4, 0.0], rtol=1e-15)
    ideal = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    got = ndcg(gains, ideal, empty=np.nan)
    assert got[0] == pytest.approx((1 + 2 / L4) / (2 + 1 / L3), rel=1e-15)
    assert np.isnan(got[1])
    assert ndcg(gains, ideal)[1] == 0.0  # the default: a row without gains scores 0


def test_binary_ndcg_ideal_is_min_of_relevant_and_k() -> None:
    hits = np.array([[False, True, True, False], [True, False, False, False], [False] * 4])
    n_rel = np.array([3, 9, 0])
    np.testing.assert_allclose(binary_ideal_dcg(n_rel, 4), [1 + 1 / L3 + 1 / L4, 1 + 1 / L3 + 1 / L4 + 1 / L5, 0],
                               rtol=1e-15)
    np.testing.assert_allclose(ndcg_binary(hits, n_rel),
                               [(1 / L3 + 1 / L4) / (1 + 1 / L3 + 1 / L4), 1 / (1 + 1 / L3 + 1 / L4 + 1 / L5), 0.0],
                               rtol=1e-15)


def test_recall_and_reciprocal_rank_by_hand() -> None:
    got = recall(np.array([2, 0, 1]), np.array([4, 0, 1]), empty=np.nan)
    assert got[0] == 0.5 and np.isnan(got[1]) and got[2] == 1.0
    hits = np.array([[False, False, True], [False, False, False], [True, True, False]])
    np.testing.assert_allclose(reciprocal_rank(hits), [1 / 3, 0.0, 1.0])


def test_target_rank_metrics_by_hand() -> None:
    got = target_rank_metrics(np.array([0, 3, 4, 1 << 30]), k=4)
    np.testing.assert_allclose(got["hr"], [1, 1, 0, 0])
    np.testing.assert_allclose(got["ndcg"], [1, 1 / L5, 0, 0], rtol=1e-15)
    np.testing.assert_allclose(got["mrr"], [1, 1 / 4, 0, 0])


def test_every_caller_gives_the_hand_values() -> None:
    """Row 0 ranks its one target second, row 1 fourth, row 2 not at all (k = 4)."""
    ranked = np.array([[3, 1, 2, 0], [0, 1, 2, 3], [2, 0, 1, 3]])
    targets = np.array([1, 3, 7])
    expected_ndcg, expected_mrr = [1 / L3, 1 / L5, 0.0], [1 / 2, 1 / 4, 0.0]
    evaluated = per_row_metrics(ranked, targets, k=4, metrics=("ndcg", "mrr", "recall"))
    np.testing.assert_allclose(evaluated["ndcg"], expected_ndcg, rtol=1e-15)
    np.testing.assert_allclose(evaluated["mrr"], expected_mrr, rtol=1e-15)
    by_rank = target_rank_metrics(np.array([1, 3, 9]), k=4)  # sequential early stopping, sampled-N protocol
    np.testing.assert_allclose(by_rank["ndcg"], expected_ndcg, rtol=1e-15)
    np.testing.assert_allclose(by_rank["mrr"], expected_mrr, rtol=1e-15)
    table = JudgmentTable(np.arange(3), targets, np.ones(3), 3)  # the search benchmark, gain 1 each
    np.testing.assert_allclose(ndcg_at_k(ranked, table, k=4), expected_ndcg, rtol=1e-15)
    np.testing.assert_allclose(recall_at_k(ranked, table, k=4), evaluated["recall"])


def test_graded_search_ndcg_by_hand() -> None:
    table = JudgmentTable(np.array([0, 0, 0]), np.array([5, 7, 8]), np.array([3.0, 1.0, 2.0]), 1)
    got = ndcg_at_k(np.array([[7, 9, 5]]), table, k=3)  # gains 1, 0, 3; ideal 3, 2, 1
    assert got[0] == pytest.approx((1 + 3 / L4) / (3 + 2 / L3 + 1 / L4), rel=1e-15)


def test_sequential_early_stopping_metric_is_the_evaluation_metric() -> None:
    """``rank_metrics`` (early stopping) equals ``per_row_metrics`` over the same model's top lists."""
    torch = pytest.importorskip("torch")
    from shopsage.recommend.base import TrainData
    from shopsage.recommend.sequential import SASRec
    from shopsage.recommend.sequential.train import rank_metrics
    from shopsage.types import ScoredItems

    rng = np.random.default_rng(3)
    seqs = Sequences.from_lists([rng.integers(0, 30, size=int(rng.integers(3, 9))) for _ in range(60)])
    cases = EvalCases(np.full(40, -1, np.int32), Sequences.from_lists([seqs[i][:-1] for i in range(40)]),
                      Sequences.from_lists([seqs[i][-1:] for i in range(40)]))
    model = SASRec(embedding_dim=8, epochs=1, max_len=8, threads=1, dropout=0.0).fit(TrainData(30, seqs))
    got = rank_metrics(model, cases, (1, 5, 10), filter_seen=False, batch=16)
    torch.set_num_threads(1)
    scores = model.score(cases.history)
    top = ScoredItems.from_scores(scores, 10).ids
    for k in (1, 5, 10):
        rows = per_row_metrics(top, cases.target, k, ("ndcg", "hr", "mrr"))
        for name in ("ndcg", "hr", "mrr"):
            assert got[f"{name}@{k}"] == pytest.approx(rows[name].mean(), abs=1e-12), f"{name}@{k}"
