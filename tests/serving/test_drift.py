"""Drift monitors: the divergences against a reference implementation, windows that close on time
and volume, thresholds that trigger retraining, and the values in ``/metrics``."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.api.app import create_app
from shopsage.api.security import Keys
from shopsage.data.schema import Event
from shopsage.serving.drift import DriftConfig, DriftMonitor, embedding_shift, js_divergence
from shopsage.serving.retraining import RetrainSchedule
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop

_COUNTS = st.dictionaries(st.sampled_from("abcdefgh"), st.integers(1, 50), min_size=1)


@given(p=_COUNTS, q=_COUNTS)
@settings(max_examples=100, deadline=None)
def test_js_divergence_is_a_bounded_symmetric_divergence(p: dict[str, int], q: dict[str, int]) -> None:
    d = js_divergence(Counter(p), Counter(q))
    assert 0.0 <= d <= 1.0 and d == pytest.approx(js_divergence(Counter(q), Counter(p)))
    keys = sorted(set(p) | set(q))
    a = np.array([p.get(k, 0) for k in keys], float)
    b = np.array([q.get(k, 0) for k in keys], float)
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2  # the definition, by hand: mean KL to the mixture, base 2
    kl = [float(np.sum(x[x > 0] * np.log2(x[x > 0] / m[x > 0]))) for x in (a, b)]
    assert d == pytest.approx((kl[0] + kl[1]) / 2, abs=1e-9)


def test_js_divergence_bounds() -> None:
    assert js_divergence(Counter(a=3, b=1), Counter(a=6, b=2)) == pytest.approx(0.0)
    assert js_divergence(Counter(a=3), Counter(b=3)) == pytest.approx(1.0)


def _stream(mon: DriftMonitor, items: list[str], t0: float, n: int, rng: np.random.Generator, typ: str = "view",
            span: float = 3600.0) -> None:
    """``n`` events spread over ``[t0, t0 + span)``."""
    for i in range(n):
        mon.add(typ, items[int(rng.integers(len(items)))], t0 + i * (span / n))


def test_popularity_shift_is_caught_and_steady_traffic_is_not() -> None:
    rng = np.random.default_rng(0)
    old = [f"a{i}" for i in range(20)]
    new = [f"n{i}" for i in range(20)]
    mon = DriftMonitor(DriftConfig(window_s=3600, min_events=200))
    for h in range(5):
        _stream(mon, old, h * 3600.0, 1000, rng)
    mon.add("view", "a1", 5 * 3600.0)  # closes hour 4
    assert mon.windows == 5 and mon.values["popularity"] < 0.05 and mon.over() == []
    assert 0.5 < mon.values["popularity_vs_usual"] < 1.5  # steady: about its usual (sampling) level
    _stream(mon, new, 5 * 3600.0 + 1, 1000, rng)
    mon.add("view", "n1", 6 * 3600.0)
    assert mon.values["popularity"] > 0.9 and mon.values["popularity_vs_usual"] > 10
    assert {o.split()[0] for o in mon.over()} == {"popularity", "popularity_vs_usual"}
    assert mon.values["event_mix"] == pytest.approx(0.0)


def test_a_thin_window_is_merged_into_the_next() -> None:
    mon = DriftMonitor(DriftConfig(window_s=60, min_events=100))
    for i in range(50):  # 50 events in minute 0: too few to close it
        mon.add("view", "x", float(i))
    for i in range(49):  # minute 2 continues the same window: 99 events
        mon.add("view", "y", 120.0 + i)
    mon.add("view", "y", 200.0)  # the 100th
    assert mon.windows == 0
    mon.add("view", "x", 1000.0)  # the next one after 100 closes it
    assert mon.windows == 1


def test_event_mix_shift() -> None:
    mon = DriftMonitor(DriftConfig(window_s=100, min_events=10))
    rng = np.random.default_rng(2)
    _stream(mon, ["x"], 0.0, 50, rng, "view", span=100)
    _stream(mon, ["x"], 100.0, 50, rng, "purchase", span=100)
    mon.add("view", "x", 200.0)
    assert mon.values["event_mix"] == pytest.approx(1.0) and "event_mix" in mon.over()[0]


def test_embedding_shift_of_new_items() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(500, 16)) + 3.0  # a catalogue around one direction
    same = rng.normal(size=(50, 16)) + 3.0
    other = rng.normal(size=(50, 16)) - 3.0
    assert abs(embedding_shift(ref, same)) < 0.02
    assert embedding_shift(ref, other) > 1.0


def test_click_through_drop_from_exposures() -> None:
    shown = {0.0: 1000, 100.0: 1000}
    mon = DriftMonitor(DriftConfig(window_s=100, min_events=10), exposures=lambda a, b: shown.get(a, 0))
    for i in range(50):
        mon.add("click", "x", float(i), attributed=True)
    for i in range(20):
        mon.add("click", "x", 100.0 + i, attributed=True)
    mon.add("view", "x", 250.0)
    assert mon.values["ctr"] == pytest.approx(0.02) and mon.values["ctr_drop"] == pytest.approx(0.6)


def test_the_schedule_is_due_on_count_period_or_drift(tmp_path: Path) -> None:
    mon = DriftMonitor(DriftConfig(window_s=100, min_events=10))
    off = RetrainSchedule(tmp_path, "sqlite:///x.db")
    assert not off.enabled and off.tick() is False
    every = RetrainSchedule(tmp_path, "sqlite:///x.db", every_events=3)
    every.observe([Event(user="u", item="i", type="view", ordinal=0)] * 2)
    assert every.due() is None
    every.observe([Event(user="u", item="i", type="view", ordinal=1)])
    assert "3 new events" in (every.due() or "")
    drift = RetrainSchedule(tmp_path, "sqlite:///x.db", on_drift=True, drift=mon)
    assert drift.due() is None
    mon.values["popularity"] = 0.95
    assert (drift.due() or "").startswith("drift: popularity")
    period = RetrainSchedule(tmp_path, "sqlite:///x.db", every_s=0.01)
    time.sleep(0.02)
    assert period.due() is not None


def test_metrics_expose_the_drift_monitors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0,
                                 drift=DriftConfig(window_s=60, min_events=2)))
    with TestClient(create_app(svc, Keys())) as c:
        for minute, item in enumerate(["pip1", "pip2", "saw1"]):
            svc.ingest([Event(user="u1", item=item, type="view", timestamp=1.7e9 + 60 * minute),
                        Event(user="u2", item=item, type="view", timestamp=1.7e9 + 60 * minute + 1)])
        text = c.get("/metrics").text
    assert 'shopsage_drift{monitor="popularity"} 1.0' in text
    assert "shopsage_drift_over_threshold 1.0" in text
