"""The sparse helpers against brute force on random data."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from shopsage.data.splits import Sequences
from shopsage.recommend._sparse import cooccurrence, history_matrix, position_weights, top_k_per_row

seqs_strategy = st.lists(st.lists(st.integers(0, 7), min_size=0, max_size=6), min_size=1, max_size=8)


@given(seqs_strategy, st.one_of(st.none(), st.integers(1, 4)))
def test_cooccurrence_matches_brute_force(seqs: list[list[int]], window: int | None) -> None:
    want = np.zeros((8, 8), np.float32)
    for s in seqs:
        pairs = {(a, b) for p, a in enumerate(s) for q, b in enumerate(s)
                 if a != b and (window is None or 0 < abs(p - q) <= window)}
        for a, b in pairs:
            want[a, b] += 1
    got = cooccurrence(Sequences.from_lists(seqs), 8, window).toarray()
    np.testing.assert_array_equal(got, want)


@given(st.integers(0, 10_000), st.integers(1, 6))
def test_top_k_per_row_keeps_the_largest(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((5, 9)) < 0.6, rng.integers(1, 5, (5, 9)), 0).astype(np.float32)
    got = top_k_per_row(sp.csr_matrix(dense), k).toarray()
    for r in range(5):
        nz = np.flatnonzero(dense[r])
        keep = nz[np.lexsort((nz, -dense[r, nz]))][:k]  # largest first, ties: lower column first
        want = np.zeros(9, np.float32)
        want[keep] = dense[r, keep]
        np.testing.assert_array_equal(got[r], want)


def test_history_matrix_keeps_the_largest_weight_of_repeats() -> None:
    hist = Sequences.from_lists([[2, 1, 2], [0]])
    w = position_weights(hist, "div")  # [1/3, 1/2, 1] and [1]
    np.testing.assert_allclose(w, [1 / 3, 1 / 2, 1, 1])
    np.testing.assert_allclose(history_matrix(hist, 3, w).toarray(), [[0, 0.5, 1], [1, 0, 0]])
    np.testing.assert_array_equal(history_matrix(hist, 3).toarray(), [[0, 1, 1], [1, 0, 0]])
