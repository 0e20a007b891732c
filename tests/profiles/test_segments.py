"""Segments: thresholds learned from the shop's rhythm, batch equals incremental, and every piece of
evidence a shopper is shown is recomputed here from the raw events (hypothesis draws the shoppers)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopsage.profiles.segments import LIFECYCLE, SegmentConfig, SegmentModel, ShopperStats, assign, rfm_score
from shopsage.profiles.segments_book import SegmentBook, SegmentEvent, choose_level, fit_book
from shopsage.testing.segment_shop import DAY, catalogue, timed_events

CAT = catalogue()
PATHS = [i.category_path for i in CAT.values()]


def _book(events: list[SegmentEvent], **cfg: object) -> SegmentBook:
    return fit_book(events, CAT.get, PATHS, SegmentConfig.model_validate(cfg))


def _occasions(events: list[SegmentEvent], user: str, gap: float = 1800.0) -> tuple[list[float], int]:
    """An independent count: a user's purchase times, split into occasions by the gap."""
    times = sorted(e.ts for e in events if e.user == user and e.type == "purchase" and e.ts is not None)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b - a > gap]
    return gaps, (1 + len(gaps)) if times else 0


@pytest.fixture(scope="module")
def book() -> SegmentBook:
    return _book(timed_events())


def test_thresholds_are_the_quantiles_of_the_shops_own_gaps(book: SegmentBook) -> None:
    events = timed_events()
    users = sorted({e.user for e in events})
    gaps = [g for u in users for g in _occasions(events, u)[0]]
    m = book.model
    assert m.activity == "purchase" and m.n_gaps == len(gaps)
    assert m.active_within_s == pytest.approx(float(np.quantile(gaps, 0.5)))
    assert m.lapsed_after_s == pytest.approx(float(np.quantile(gaps, 0.9)))
    # the generator's rhythm: ~10 days between visits, 60% of visits buy -> median gap of some days
    assert 3 * DAY < m.active_within_s < 30 * DAY < m.lapsed_after_s < 80 * DAY
    assert m.level == 1 and set(m.dims) == {"Lab", "Tools", "Garden", "Kitchen"}


def test_interest_clusters_find_the_generated_groups(book: SegmentBook) -> None:
    m = book.model
    assert len(m.centers) == 4 and m.silhouette is not None and m.silhouette > 0.5  # k=4 by silhouette
    for u in range(0, 120, 7):  # user u's home category is CATS[u % 4]
        a = book.segment_of(f"u{u}")
        assert a is not None
        interest = a.of("interest")
        assert interest is not None and interest["evidence"]["label"] == ("Lab", "Tools", "Garden", "Kitchen")[u % 4]


def test_stopped_shoppers_are_lapsed_and_the_rest_are_not(book: SegmentBook) -> None:
    for u in range(120):
        life = book.segment_of(f"u{u}").of("lifecycle")  # type: ignore[union-attr]
        assert life is not None
        if u % 5 == 0:  # stopped 60-200 days before the end, far beyond the ~40-day threshold
            assert life["segment"] == "lapsed", life["text"]


def test_incremental_updates_equal_the_batch_replay() -> None:
    events = timed_events(seed=3)
    whole = _book(events)
    cut = len(events) // 2
    half = _book(events[:cut])
    live = SegmentBook(whole.model, CAT.get)  # the whole model, stats from the first half then event by event
    for e in events[:cut]:
        live.observe(e)
    for e in events[cut:]:
        live.observe(e)
    assert live.stats == whole.stats
    assert half.stats != whole.stats
    for u in ("u1", "u2", "u10"):
        assert live.segment_of(u) == whole.segment_of(u)


def test_a_shop_without_repeat_buyers_learns_from_visits() -> None:
    events = [e for e in timed_events(users=20) if e.type == "view"]
    b = _book(events, min_repeat_buyers=1)
    assert b.model.activity == "visit" and b.model.m_cutoffs is None
    life = b.segment_of("u3").of("lifecycle")  # type: ignore[union-attr]
    assert life is not None and "visit" in life["text"]


def test_order_only_data_has_no_lifecycle_but_value_and_interest() -> None:
    events = [e._replace(ts=None) for e in timed_events(users=40)]
    b = _book(events)
    a = b.segment_of("u1")
    assert a is not None and a.of("lifecycle") is None
    assert a.of("value") is not None and a.of("interest") is not None


def test_choose_level_skips_a_root_shared_by_everything() -> None:
    assert choose_level([("Shop", "A", "x"), ("Shop", "B"), ("Shop", "C")]) == 1
    assert choose_level([("A",), ("B",), ("C",)]) == 0


# ---------------------------------------------------------------- evidence, recomputed (hypothesis)

_TYPES = st.sampled_from(["view", "click", "add_to_cart", "purchase"])
_ITEMS = st.sampled_from(sorted(CAT))


@st.composite
def shopper_events(draw: st.DrawFn) -> list[SegmentEvent]:
    n = draw(st.integers(1, 25))
    t = draw(st.floats(0, 300 * DAY))
    out = []
    for _ in range(n):
        t += draw(st.sampled_from([0.0, 60.0, 3600.0, DAY, 9 * DAY, 45 * DAY]))
        value = draw(st.none() | st.floats(0.5, 500))
        out.append(SegmentEvent("x", draw(_ITEMS), draw(_TYPES), t, value))
    return out


@given(events=shopper_events(), now_after=st.floats(0, 400 * DAY))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_segment_shown_has_evidence_that_recomputes(book: SegmentBook, events: list[SegmentEvent],
                                                          now_after: float) -> None:
    m = book.model
    b = SegmentBook(m, CAT.get)
    for e in events:
        b.observe(e)
    now = max(e.ts for e in events if e.ts is not None) + now_after
    a = b.segment_of("x", now)
    assert a is not None
    # lifecycle: recency from the last purchase (else the last event), the rule, the days in the text
    gaps, occasions = _occasions(events, "x")
    buys = [e.ts for e in events if e.type == "purchase"]
    last = max(buys) if buys else max(e.ts for e in events)  # type: ignore[type-var]
    recency = now - last  # type: ignore[operator]
    life = a.of("lifecycle")
    assert life is not None and life["segment"] in LIFECYCLE
    assert life["evidence"]["recency_s"] == pytest.approx(recency) and life["evidence"]["occasions"] == occasions
    assert m.active_within_s is not None and m.lapsed_after_s is not None
    want = ("lapsed" if recency > m.lapsed_after_s else "new" if occasions <= 1
            else "active" if recency <= m.active_within_s else "at_risk")
    assert life["segment"] == want
    days = recency / DAY
    assert (f"{days:.1f} days" if days < 10 else f"{days:.0f} days") in life["text"]
    # value: quintile scores counted against the model's cutoffs, money from values else prices
    spent = sum((e.value if e.value is not None else CAT[e.item].price) for e in events if e.type == "purchase")
    value = a.of("value")
    assert value is not None and m.m_cutoffs is not None
    f = 1 + int(np.sum(occasions > np.asarray(m.f_cutoffs)))
    mm = 1 + int(np.sum(spent > np.asarray(m.m_cutoffs)))
    assert value["evidence"]["f_score"] == f and value["evidence"]["monetary"] == pytest.approx(spent)
    near = any(math.isclose(spent, c, rel_tol=1e-9) for c in m.m_cutoffs)  # summed in another order
    assert value["evidence"]["m_score"] == mm or near
    mean = (f + value["evidence"]["m_score"]) / 2
    assert value["segment"] == ("value_high" if mean >= 4 else "value_low" if mean <= 2 else "value_medium")
    # interest: category shares weighted by type, nearest centre by Euclidean distance
    weights = {"view": 1.0, "click": 1.0, "add_to_cart": 2.0, "purchase": 3.0}
    shares = np.zeros(len(m.dims))
    for e in events:
        shares[m.dims.index(CAT[e.item].category_path[1])] += weights[e.type]
    interest = a.of("interest")
    if shares.sum() < m.min_interest_weight:
        assert interest is None
        return
    assert interest is not None
    shares /= shares.sum()
    k = int(np.argmin(np.linalg.norm(np.asarray(m.centers) - shares, axis=1)))
    assert interest["segment"] == f"interest_{k}" and interest["evidence"]["cluster"] == k
    top = int(np.argmax(shares))
    assert f"{shares[top]:.0%} of weighted interactions in {m.dims[top]}" in interest["text"]


def test_a_single_light_event_gets_no_interest_group(book: SegmentBook) -> None:
    b = SegmentBook(book.model, CAT.get)
    b.observe(SegmentEvent("y", "lab1", "view", 10.0))
    a = b.segment_of("y")
    assert a is not None and a.of("interest") is None  # 1 weighted interaction < min_interest_weight of 2


def test_rfm_score_counts_the_cutoffs_exceeded() -> None:
    cuts = (1.0, 2.0, 2.0, 5.0)
    assert [rfm_score(x, cuts) for x in (0.5, 1.0, 1.5, 2.0, 3.0, 9.0)] == [1, 1, 2, 2, 4, 5]


def test_the_model_round_trips_through_json(book: SegmentBook) -> None:
    import json

    again = SegmentModel.from_dict(json.loads(json.dumps(book.model.as_dict())))
    assert again == book.model
    st_ = ShopperStats()
    st_.observe("purchase", 5.0, "Lab", 3.0, "purchase", 1800.0)
    assert assign("z", st_, again) == assign("z", st_, book.model)
    assert replace(book.model, centers=()) != book.model
