"""A scenario fuses its candidate lists with the search fusion's weighted RRF: hand-computed
scores, ties by slot, and reasons ordered by each list's contribution."""

from __future__ import annotations

import numpy as np

from shopsage.serving.generators import CandidateList
from shopsage.serving.reasons import Reason
from shopsage.serving.scenario import _first_hits, _fuse, _why


def _list(source: str, slots: list[int]) -> CandidateList:
    return CandidateList(source, np.array(slots, np.int64), np.zeros(len(slots), np.float32),
                         lambda i: Reason("candidates", source, f"{source} #{i}", {"position": i}))


def test_weighted_rrf_by_hand_with_ties_by_slot() -> None:
    a, b = _list("a", [5, 3, 8]), _list("b", [8, 1])
    slots, scores = _fuse([(a, 1.0), (b, 0.5)], k=2.0)
    # 5: 1/3; 3: 1/4; 8: 1/5 + 0.5/3; 1: 0.5/4 (rank from 0: weight / (k + rank + 1))
    expected = {5: 1 / 3, 3: 1 / 4, 8: 1 / 5 + 0.5 / 3, 1: 0.5 / 4}
    assert slots.tolist() == sorted(expected, key=lambda s: -expected[s])
    np.testing.assert_allclose(scores, [expected[s] for s in slots.tolist()], rtol=1e-6)
    assert scores.dtype == np.float32 and slots.dtype == np.int64
    tied, _ = _fuse([(_list("a", [9, 4]), 1.0), (_list("b", [4, 9]), 1.0)], k=60.0)
    assert tied.tolist() == [4, 9]
    none, none_scores = _fuse([], 60.0)
    assert len(none) == 0 and len(none_scores) == 0


def test_reasons_largest_contribution_first() -> None:
    a, b = _list("a", [5, 3, 8]), _list("b", [8, 1])
    lists = [(a, 1.0), (b, 0.5)]
    why = _why(lists, 2.0, _first_hits(lists, [8])[0])  # a adds 1/5, b adds 0.5/3 < 1/5
    assert [r.text for r in why] == ["a #2", "b #0"]
    lists = [(a, 1.0), (b, 2.0)]
    why = _why(lists, 2.0, _first_hits(lists, [8])[0])  # b adds 2/3 > 1/5
    assert [r.text for r in why] == ["b #0", "a #2"]


def test_first_hits_are_each_shown_slots_first_position_per_list() -> None:
    a, b = _list("a", [5, 3, 8, 3]), _list("b", [8, 1])
    assert _first_hits([(a, 1.0), (b, 1.0)], [3, 8, 9]) == [[1, -1], [2, 0], [-1, -1]]
    assert _first_hits([], [3, 8]) == [[], []]
    assert _first_hits([(a, 1.0)], []) == []
