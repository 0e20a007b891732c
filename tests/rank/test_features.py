"""The stage features' per-generator columns: an item's rank is its first place in that generator's list."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.rank.features import RANK_MISSING, StageFeatures, StageInput

slot_lists = st.lists(st.integers(0, 40), max_size=30)


@given(listed=slot_lists, candidates=st.lists(st.integers(0, 40), min_size=1, max_size=30, unique=True),
       scores=st.lists(st.floats(-5, 5), min_size=30, max_size=30))
@settings(max_examples=200, deadline=None)
def test_rank_and_scaled_score_come_from_the_first_occurrence(listed, candidates, scores) -> None:  # type: ignore[no-untyped-def]
    m = len(candidates)
    sc = np.array(scores[:len(listed)], np.float64)
    inp = StageInput(slots=np.array(candidates), fused=np.linspace(1, 0, m), lists={"g": (np.array(listed, np.int64), sc)},
                     stored_popularity=np.zeros(m), live_popularity=np.zeros(m), age_days=np.full(m, np.nan),
                     category_share=np.full(m, np.nan), brand_share=np.full(m, np.nan), price_z=np.full(m, np.nan),
                     text_similarity=np.full(m, np.nan), history_length=3)
    f = StageFeatures(["g"])
    x = f.compute(inp)
    score, rank, lists = x[:, 0], x[:, 1], x[:, f.names.index("lists")]
    lo, hi = (sc.min(), sc.max()) if len(sc) else (0.0, 0.0)
    for j, c in enumerate(candidates):
        if c in listed:
            i = listed.index(c)  # first occurrence, as the serving list's best place
            assert rank[j] == i + 1 and lists[j] == 1
            want = (sc[i] - lo) / (hi - lo) if hi > lo else 1.0
            assert np.isclose(score[j], want, atol=1e-6)
        else:
            assert rank[j] == RANK_MISSING and np.isnan(score[j]) and lists[j] == 0
