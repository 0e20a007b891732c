"""Session kNN against hand-computed votes: cosine, recency sampling, neighbours, position weights."""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.data.splits import Sequences
from shopsage.recommend import SKNN
from shopsage.recommend.base import TrainData

TRAIN = TrainData(6, Sequences.from_lists([[0, 1], [0, 2, 4], [3, 4]]))  # session order = recency


def test_cosine_votes_by_hand() -> None:
    s = SKNN(weighting="none").fit(TRAIN).score(Sequences.from_lists([[0]]))[0]
    a, b = 1 / np.sqrt(1 * 2), 1 / np.sqrt(1 * 3)  # sim to session 0 and session 1
    np.testing.assert_allclose(s, [a + b, a, b, 0, b, 0], rtol=1e-6)


def test_sample_keeps_the_most_recent_sessions() -> None:
    s = SKNN(weighting="none", sample_size=1).fit(TRAIN).score(Sequences.from_lists([[0]]))[0]
    assert s[1] == 0 and s[2] > 0  # only session 1 (newer than session 0) is compared


def test_timestamps_define_recency() -> None:
    ts = np.array([30.0, 31.0, 10.0, 11.0, 12.0, 20.0, 21.0])  # session 0 is the newest
    d = TrainData(6, TRAIN.sequences, ts=ts)
    s = SKNN(weighting="none", sample_size=1).fit(d).score(Sequences.from_lists([[0]]))[0]
    assert s[1] > 0 and s[2] == 0


def test_neighbors_keeps_the_most_similar() -> None:
    s = SKNN(weighting="none", neighbors=1).fit(TRAIN).score(Sequences.from_lists([[0]]))[0]
    assert s[1] == pytest.approx(1 / np.sqrt(2)) and s[2] == 0  # session 0 (smaller) is more similar


def test_position_weights_favour_the_newest_click() -> None:
    m = SKNN(weighting="div").fit(TRAIN)
    s = m.score(Sequences.from_lists([[3, 0]]))[0]  # 0 is the newest (weight 1), 3 older (weight 1/2)
    # session 0 shares item 0 -> 1/sqrt(2*2); session 1 shares 0 -> 1/sqrt(2*3); session 2 shares 3 -> 0.5/sqrt(2*2)
    np.testing.assert_allclose(s[1], 1 / 2, rtol=1e-6)
    np.testing.assert_allclose(s[2], 1 / np.sqrt(6), rtol=1e-6)
    np.testing.assert_allclose(s[4], 1 / np.sqrt(6) + 0.25, rtol=1e-6)


def test_jaccard_and_batches_agree_with_single_rows() -> None:
    m = SKNN(similarity="jaccard", weighting="none", batch_size=1).fit(TRAIN)
    s = m.score(Sequences.from_lists([[0, 4], [3]]))
    # [0, 4] vs session 1 {0, 2, 4}: overlap 2, union 3; vs session 0 {0, 1}: 1/3; vs session 2 {3, 4}: 1/3
    assert s[0, 2] == pytest.approx(2 / 3)
    assert s[0, 1] == pytest.approx(1 / 3)
    big = SKNN(similarity="jaccard", weighting="none", batch_size=64).fit(TRAIN)
    np.testing.assert_allclose(big.score(Sequences.from_lists([[0, 4], [3]])), s)
