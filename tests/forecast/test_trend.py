"""The trend model of ``trending``: window counts, the scores it is compared with, its choice of
half-life, and reasons whose every number a test recomputes from the raw events."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.forecast.live import TrendScores, span_words, trend_reason
from shopsage.forecast.trend import (
    TrendConfig,
    TrendModel,
    WindowCounts,
    decayed_score,
    growth_evidence,
    served_score,
    window_ndcg,
)
from shopsage.forecast.trend_eval import trend_backtest

H = 3600.0


def test_events_are_binned_per_whole_window() -> None:
    ts = np.array([7200.0, 7300.0, 10_799.0, 10_800.0, 18_000.0])
    wc = WindowCounts.from_events(ts, np.array([0, 1, 0, 0, 1]), 2, H)
    assert wc.start == 7200.0 and wc.n_windows == 4
    assert wc.counts.tolist() == [[2, 1], [1, 0], [0, 0], [0, 1]]
    assert served_score(wc, 2).tolist() == [3 + 3, 1 + 1]  # all time + the last 24 hours again
    assert decayed_score(wc, 2, 1.0) == pytest.approx([2 * 0.5**1.5 + 1 * 0.5**0.5, 0.5**1.5])


def test_window_ndcg_uses_the_counts_as_gains() -> None:
    actual = np.array([5.0, 0.0, 3.0, 1.0])
    assert window_ndcg(np.array([3.0, 0.0, 2.0, 1.0]), actual, 2) == pytest.approx(1.0)
    swapped = window_ndcg(np.array([2.0, 0.0, 3.0, 1.0]), actual, 2)
    assert swapped == pytest.approx((3 + 5 / np.log2(3)) / (5 + 3 / np.log2(3)))
    assert window_ndcg(np.zeros(4), actual, 2) == 0.0  # nothing scored, nothing listed


def _rotating(n_items: int = 12, days: int = 4, hot: int = 4, seed: int = 0) -> WindowCounts:
    """Each item is hot for ``hot`` hours in turn, with a little background noise: only recent counts tell."""
    rng = np.random.default_rng(seed)
    w = days * 24
    counts = rng.poisson(0.3, size=(w, n_items)).astype(np.float32)
    for t in range(w):
        counts[t, (t // hot) % n_items] += 8
    return WindowCounts(counts, 0.0, H)


def test_the_trend_model_follows_what_is_hot_now_and_beats_the_served_counts() -> None:
    wc = _rotating()
    model = TrendModel(TrendConfig()).fit(wc, 48)
    assert model.half_life is not None and model.half_life <= 3.0  # a short memory: popularity turns every 4 hours
    report = trend_backtest(wc, others=())
    assert report.ndcg["trend_model"] > 1.5 * report.ndcg["served"]
    assert report.windows == 3 * 24 and set(report.per_day) and 0 <= report.wins["served"] <= 1


def test_the_regressions_fit_and_score_active_items_only() -> None:
    wc = _rotating(days=3)
    for objective in ("glm", "lgbm"):
        m = TrendModel(TrendConfig(objective=objective, n_estimators=20)).fit(wc, 48)  # type: ignore[arg-type]
        s = m.predict(wc, 60)
        assert m.fitted and s.shape == (12,) and (s >= 0).all()
        assert int(np.argmax(s)) == (59 // 4) % 12  # the item hot in the last window is expected to stay so


def test_reason_wording() -> None:
    assert trend_reason(12, 4, "6 hours") == "Trending: interactions up 3.0x in the last 6 hours (12, from 4)"
    assert trend_reason(1, 0, "6 hours") == "Trending: 1 interaction in the last 6 hours, none in the 6 hours before"
    assert trend_reason(2, 5, "6 hours") == "Popular lately: 2 interactions in the last 6 hours, 5 in the 6 hours before"
    assert trend_reason(0, 0, "6 hours", 7) == "Popular lately: 7 interactions in the last 24 hours"
    assert span_words(6, 3600) == "6 hours" and span_words(1, 86_400) == "1 day" and span_words(3, 1800) == "90 minutes"


events = st.lists(st.tuples(st.floats(0, 4 * 86_400 - 1, allow_nan=False), st.integers(0, 5)), min_size=1, max_size=300)


@settings(max_examples=60, deadline=None)
@given(events, st.integers(1, 12), st.integers(0, 200))
def test_reasons_are_recomputed_from_the_raw_events(evs: list[tuple[float, int]], span: int, now_hours: int) -> None:
    ts = np.array([e[0] for e in evs])
    items = np.array([e[1] for e in evs])
    t_now = 30 * 24 + now_hours % 72  # the window under way
    base = 30 * 86_400.0
    wc = WindowCounts.from_events(ts + base - 4 * 86_400, items, 6, H, start=0.0, end=t_now * H)
    model = TrendModel(TrendConfig(half_lives=[2.0]))
    model.fit(wc, t_now)
    cur = TrendScores(t_now, model.predict(wc, t_now), [f"i{j}" for j in range(6)], wc, model.half_life)
    start = t_now * H
    raw = ts + base - 4 * 86_400
    for j in range(6):
        ev = cur.evidence(j, span)
        last = int(((raw >= start - span * H) & (raw < start) & (items == j)).sum())
        before = int(((raw >= start - 2 * span * H) & (raw < start - span * H) & (items == j)).sum())
        day = int(((raw >= start - 24 * H) & (raw < start) & (items == j)).sum())
        assert (ev["last"], ev["before"], ev["last_24h"]) == (last, before, day)
        assert (last, before) == growth_evidence(wc, t_now, j, span)
        text = trend_reason(ev["last"], ev["before"], ev["span"], ev["last_24h"])
        numbers = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text.replace("last 24 hours", "").replace(ev["span"], ""))]
        allowed = {float(last), float(before)} | ({round(last / before, 1)} if before else set())
        if last == before == 0 and day:
            allowed = {float(day)}
        assert set(numbers) <= allowed, (text, allowed)
        assert ev["span"] == span_words(span, H) and ev["growth"] == (round(last / before, 1) if before else None)
