"""Text-aware item representations: an item never seen in training is recommended by its text."""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.data.splits import EvalCases, Sequences
from shopsage.recommend.base import TrainData
from shopsage.recommend.sequential import SASRec

NAMES = ["red running shoes", "stainless steel kettle", "wireless computer mouse", "organic green tea",
         "yoga mat", "cast iron frying pan", "bluetooth headphones", "wool winter scarf", "garden hose",
         "laptop backpack", "electric toothbrush", "ceramic coffee mug", "leather wallet", "desk lamp",
         "dog food bowl", "baby diapers", "sunscreen lotion", "acoustic guitar strings", "tennis balls",
         "printer paper", "scented candle", "kitchen scale", "phone charger cable", "hiking socks"]
N_WARM = len(NAMES)
ORDER = np.random.default_rng(3).permutation(N_WARM)  # ORDER[j] is followed by ORDER[j + 1]
COLD = N_WARM  # a new item: the text of ORDER[5], no interactions at all


def cycles(n_seq: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [ORDER[(int(rng.integers(N_WARM)) + np.arange(int(rng.integers(3, 9)))) % N_WARM] for _ in range(n_seq)]


@pytest.fixture(scope="module")
def fused() -> SASRec:
    seqs = cycles(200, 0)
    valid = cycles(40, 1)
    data = TrainData(N_WARM + 1, Sequences.from_lists(seqs), item_text=NAMES + [NAMES[ORDER[5]]],
                     valid=EvalCases(np.full(40, -1, np.int32), Sequences.from_lists([v[:-1] for v in valid]),
                                     Sequences.from_lists([v[-1:] for v in valid])))
    return SASRec(embedding_dim=16, epochs=25, batch_size=32, learning_rate=0.01, dropout=0.0, patience=25,
                  max_len=8, threads=1, item_repr="text-fuse").fit(data)


def test_a_cold_item_is_recommended_where_its_text_twin_would_be(fused: SASRec) -> None:
    hist = [int(ORDER[3]), int(ORDER[4])]
    top = fused.next_items(hist, 3).ids[0].tolist()
    assert int(ORDER[5]) == top[0]
    assert COLD in top, top
    # elsewhere in the cycle the cold item is not near the top
    other = fused.next_items([int(ORDER[12]), int(ORDER[13])], 3).ids[0].tolist()
    assert COLD not in other


def test_text_fused_model_round_trips(fused: SASRec, tmp_path) -> None:
    fused.save(tmp_path / "m")
    again = SASRec.load(tmp_path / "m")
    hist = Sequences.from_lists([[1, 2], [COLD]])
    np.testing.assert_allclose(again.score(hist), fused.score(hist), rtol=1e-5, atol=1e-6)
