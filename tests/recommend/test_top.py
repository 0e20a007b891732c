"""The one-row top-n of served requests against ScoredItems.from_scores (the reference): the same answer, or
None on a tie (the caller then ranks with from_scores); and the models' one-history paths against the
whole-row ranking they replace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shopsage.data.splits import Sequences
from shopsage.recommend import EASE, ItemKNN
from shopsage.recommend._top import dense_top, exact_top
from shopsage.recommend.base import Recommender, TrainData
from shopsage.recommend.sequential import SASRec
from shopsage.types import PAD_ID, ScoredItems


def _reference(row: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    ref = ScoredItems.from_scores(row[None, :], n)
    return ref.ids[0], ref.scores[0]


def _rows(seed: int, size: int, count: int) -> list[np.ndarray]:
    """Score rows: distinct values, a few excluded (-inf), some with ties, some mostly -inf."""
    rng = np.random.default_rng(seed)
    out = []
    for r in range(count):
        row = rng.standard_normal(size).astype(np.float32)
        row[rng.integers(0, size, size // 50)] = -np.inf
        if r % 3 == 1:  # ties among the best
            best = np.argsort(-row)[:50]
            row[best[10]] = row[best[11]]
        if r % 5 == 2:  # a sparse row: few finite scores
            row[rng.random(size) < 0.97] = -np.inf
        out.append(row)
    return out


@pytest.mark.parametrize("n,fast", [(1, 20), (10, 20), (105, 20), (300, 0)])
def test_dense_top_is_from_scores_or_none(n: int, fast: int) -> None:
    """``fast``: rows at least that answer without from_scores (none when n is a large share of the row)."""
    answered = 0
    for row in _rows(n, 4385, 60):
        top = dense_top(row, n)
        if top is None:
            continue
        answered += 1
        ids, scores = _reference(row, n)
        np.testing.assert_array_equal(top[0], ids)
        np.testing.assert_array_equal(top[1], scores)
        assert top[0].dtype == np.int32 and top[1].dtype == np.float32
    assert answered >= fast if fast else answered == 0  # rows with distinct best scores take the fast path


def test_a_tie_at_the_cut_or_among_the_best_is_left_to_from_scores() -> None:
    vals = np.array([5.0, 4.0, 3.0, 3.0, 1.0], np.float32)
    cand = np.array([10, 11, 12, 13, 14])
    assert exact_top(cand, vals, 3, 100) is None  # 12 and 13 tie at the cut
    assert exact_top(cand, vals, 3, 100, any_tie_order=True) is None
    assert exact_top(cand, vals, 4, 100) is None  # a tie inside the top: its order is from_scores'
    ids, scores = exact_top(cand, vals, 4, 100, any_tie_order=True)  # the same set, ties by position
    assert ids.tolist() == [10, 11, 12, 13] and scores.tolist() == [5.0, 4.0, 3.0, 3.0]
    ids, scores = exact_top(cand[[0, 1, 4]], vals[[0, 1, 4]], 5, 100)  # fewer candidates than n: padded
    assert ids.tolist() == [10, 11, 14, PAD_ID, PAD_ID] and scores[3:].tolist() == [-np.inf, -np.inf]


def _fitted_itemknn(neighbors: int) -> ItemKNN:
    rng = np.random.default_rng(3)
    seqs = [rng.integers(0, 300, int(rng.integers(2, 12))).tolist() for _ in range(2000)]
    return ItemKNN(neighbors=neighbors, shrink=0.0).fit(TrainData(300, Sequences.from_lists(seqs)))


def _dense_similar(m: ItemKNN, items: list[int], n: int) -> ScoredItems:
    """similar_items as the dense rows rank it (the reference)."""
    rows = m.weights.toarray()[items].astype(np.float32)
    rows[rows <= 0] = -np.inf
    return ScoredItems.from_scores(rows, n, exclude=[np.array([i]) for i in items])


@pytest.mark.parametrize("neighbors,n", [(20, 10), (20, 50), (100, 30)])
def test_itemknn_similar_items_from_the_csr_rows(neighbors: int, n: int) -> None:
    m = _fitted_itemknn(neighbors)
    items = list(range(0, 300, 7))
    got, ref = m.similar_items(items, n), _dense_similar(m, items, n)
    np.testing.assert_array_equal(got.ids, ref.ids)
    np.testing.assert_array_equal(got.scores, ref.scores)
    sets = m.similar_sets(items, n)  # the same neighbours and scores in each row, ties in any order
    for r in range(len(items)):
        got_r = sorted(zip(sets.ids[r].tolist(), sets.scores[r].tolist(), strict=True))
        assert got_r == sorted(zip(ref.ids[r].tolist(), ref.scores[r].tolist(), strict=True))
    if n >= neighbors:  # no row is cut: ties (common without shrinkage) leave the set alone
        assert m._similar_from_csr(np.asarray(items), n, any_tie_order=True) is not None


def test_ease_one_history_scores_as_the_batch() -> None:
    rng = np.random.default_rng(5)
    seqs = [rng.integers(0, 200, int(rng.integers(1, 10))).tolist() for _ in range(800)]
    m = EASE(reg=50.0).fit(TrainData(200, Sequences.from_lists(seqs)))
    for h in ([], [3], [7, 7, 2, 150, 9], rng.integers(0, 200, 40).tolist()):
        one = m.score(Sequences.from_lists([h]))
        batch = m.score(Sequences.from_lists([h, [1, 2]]))  # the sparse product
        np.testing.assert_array_equal(one[0], batch[0])
        got, ref = m.recommend([np.asarray(h, np.int32)], 10), m.recommend([np.asarray(h, np.int32), np.array([1], np.int32)], 10)
        np.testing.assert_array_equal(got.ids[0], ref.ids[0])
        np.testing.assert_array_equal(got.scores[0], ref.scores[0])


@pytest.fixture(scope="module")
def sasrec() -> SASRec:
    rng = np.random.default_rng(11)
    seqs = [rng.integers(0, 40, int(rng.integers(3, 12))).tolist() for _ in range(300)]
    return SASRec(embedding_dim=16, epochs=2, batch_size=64, max_len=8, threads=1).fit(
        TrainData(40, Sequences.from_lists(seqs)))


@pytest.mark.parametrize("n,filter_seen", [(5, True), (12, False), (60, True)])
def test_sasrec_one_history_answers_as_the_whole_row_ranked(sasrec: SASRec, n: int, filter_seen: bool) -> None:
    for h in ([4], [1, 2, 3, 2], list(range(20))):
        seq = np.asarray(h, np.int32)
        one = sasrec.recommend([seq], n, filter_seen=filter_seen)
        ref = Recommender.recommend(sasrec, [seq], n, filter_seen=filter_seen)  # score(): the whole row ranked
        np.testing.assert_array_equal(one.ids, ref.ids)
        np.testing.assert_array_equal(one.scores, ref.scores)


def test_sasrec_tied_scores_fall_back_to_the_whole_row_ranked(sasrec: SASRec) -> None:
    table = sasrec._table
    assert table is not None
    saved = table.clone()
    try:
        with torch.inference_mode():
            table[5:30] = table[4]  # 26 items with the same score for every history
        seq = np.array([1, 2, 3], np.int32)
        one, ref = sasrec.recommend([seq], 20), Recommender.recommend(sasrec, [seq], 20)
        assert len(set(ref.scores[0].tolist())) < 20  # tied scores in the answer
        np.testing.assert_array_equal(one.ids, ref.ids)
        np.testing.assert_array_equal(one.scores, ref.scores)
    finally:
        with torch.inference_mode():
            table.copy_(saved)
