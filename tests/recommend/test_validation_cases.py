"""The one seeded case subsampler (evaluation, tuning, sequential early stopping) and the held-out
validation of a refit pick the same indices as before they were merged: pinned on small cases."""

from __future__ import annotations

import numpy as np

from shopsage.data.splits import EvalCases, Sequences, seeded_indices, subsample_cases
from shopsage.evaluate import protocols
from shopsage.recommend.base import TrainData
from shopsage.recommend.sequential import train
from shopsage.recommend.sequential.base import holdout_valid


def _cases(n: int) -> EvalCases:
    return EvalCases(np.arange(n, dtype=np.int32), Sequences.from_lists([[c, c + 1] for c in range(n)]),
                     Sequences.from_lists([[100 + c] for c in range(n)]))


def test_pinned_indices_of_the_seeded_sample() -> None:
    assert seeded_indices(10, 4, 0).tolist() == [2, 4, 5, 7]
    assert seeded_indices(25, 6, 7).tolist() == [13, 15, 18, 19, 20, 23]
    sample = subsample_cases(_cases(25), 6, seed=7)
    assert sample.owner.tolist() == [13, 15, 18, 19, 20, 23]
    assert sample.targets.items.tolist() == [113, 115, 118, 119, 120, 123]
    assert [sample.history[i].tolist() for i in range(2)] == [[13, 14], [15, 16]]


def test_all_cases_when_enough_and_one_subsampler_everywhere() -> None:
    cases = _cases(5)
    assert subsample_cases(cases, None) is cases and subsample_cases(cases, 5, seed=3) is cases
    assert protocols.subsample_cases is subsample_cases and train.subsample_cases is subsample_cases


def test_pinned_holdout_of_a_refit() -> None:
    seqs = Sequences.from_lists([list(range(i % 5 + 1)) for i in range(40)])  # lengths 1..5, 24 of >= 3
    held = holdout_valid(TrainData(10, seqs), most=3, seed=0)
    assert held.valid is not None
    assert held.valid.owner.tolist() == [22, 24, 32] and held.valid.targets.items.tolist() == [2, 4, 2]
    assert held.sequences.lengths[[22, 24, 32]].tolist() == [2, 4, 2]
    held = holdout_valid(TrainData(10, seqs), most=100, seed=5)  # at most 10% of the sequences: 4
    assert held.valid is not None and held.valid.owner.tolist() == [2, 24, 29, 33]
