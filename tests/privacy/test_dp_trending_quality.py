"""What ``privacy.dp_trending`` costs (``shopsage bench trend --dp-epsilons``): the bench ranks by the
release :class:`PrivateTrending` would make before each window, computed by the service's own functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsage.config import PrivacyConfig
from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.data.stores import open_store
from shopsage.errors import ConfigError
from shopsage.forecast.trend_eval import dp_trending_backtest, release_counts_before
from shopsage.privacy.trending import PrivateTrending, shopper_counts
from shopsage.training.data import store_interactions

HOUR = 3600.0
T0 = 1_700_006_400.0  # a midnight UTC
N_ITEMS = 30


def _log(hours: int = 52, seed: int = 0) -> list[EventRow]:
    """Steady Zipf-like popularity: each hour 15 sessions click 3 items each (repeats allowed), so the
    all-time shopper counts predict the next hour well; a few users come back across hours."""
    rng = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, N_ITEMS + 1)
    rows, line = [], 0
    for h in range(hours):
        for s in range(15):
            line += 1
            user = f"u{s}" if s < 3 else None  # users 0-2 return every hour: clamped to their latest items
            for pos, i in enumerate(rng.choice(N_ITEMS, 3, p=w / w.sum())):
                rows.append(EventRow(RowKey("t", line, pos), "click", f"i{i}", user, f"s{h}-{s}",
                                     ts=T0 + h * HOUR + 60 * s + pos))
    return rows


def _store(path: Path, rows: list[EventRow]):  # noqa: ANN202 - a Store
    store = open_store(f"sqlite:///{path}")
    store.write_items([ItemRow(f"i{i}", f"Item {i}") for i in range(N_ITEMS)])
    store.write_events(rows)
    return store


@pytest.fixture(scope="module")
def report_store(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a Store
    store = _store(tmp_path_factory.mktemp("dp") / "log.db", _log())
    yield store
    store.close()


def test_with_a_huge_epsilon_the_private_ranking_is_the_clamped_one(report_store) -> None:  # noqa: ANN001
    rep = dp_trending_backtest(report_store, HOUR, [1e6], k=10, max_contributions=3, repeats=2)
    assert rep.windows == 52 - 24
    # noise of scale 3e-6: P(noise != 0) is about 2 exp(-3e5) per item, so the rankings are the same
    assert rep.ndcg["epsilon_1e+06"] == rep.ndcg["clamped"] | {"std": 0.0}
    assert rep.top_same["epsilon_1e+06"]["mean"] == 1.0
    assert {"trend_model", "served", "clamped"} <= set(rep.ndcg)
    assert 0.5 < rep.ndcg["clamped"]["mean"] <= 1.0  # steady popularity: the counts rank the next hour well


def test_quality_falls_with_epsilon(report_store) -> None:  # noqa: ANN001
    rep = dp_trending_backtest(report_store, HOUR, [0.01, 1.0, 1e6], k=10, max_contributions=3, repeats=3)
    tiny, mid, huge = (rep.ndcg[f"epsilon_{e:g}"]["mean"] for e in (0.01, 1.0, 1e6))
    # scale 300 against counts of at most a few hundred: the noise decides the ranking; scale 3 barely moves it
    assert tiny + 0.1 < mid and mid <= huge + 0.02, rep.ndcg
    assert rep.top_same["epsilon_0.01"]["mean"] < rep.top_same["epsilon_1"]["mean"] <= 1.0, rep.top_same
    assert rep.ndcg["epsilon_0.01"]["std"] > 0  # independent draws differ
    assert rep.ndcg["epsilon_0.01"]["min"] <= tiny <= rep.ndcg["epsilon_0.01"]["max"]


def test_the_bench_counts_what_the_service_releases(tmp_path: Path) -> None:
    """A PrivateTrending release on a store holding only the events before a window against the bench's
    counts for that window from the whole log: the same exact counts, and the release within its noise."""
    rows = _log(hours=30)
    start = T0 + 26 * HOUR
    full = _store(tmp_path / "full.db", rows)
    before = _store(tmp_path / "before.db", [r for r in rows if r.ts is not None and r.ts < start])
    try:
        bench = release_counts_before(store_interactions(full), start, 2)
        bench_by_ext = {ext: int(bench[r]) if r < len(bench) else 0 for ext, r in full.item_ids().items()}
        svc = shopper_counts(store_interactions(before), 2)
        svc_by_ext = {ext: int(svc[r]) if r < len(svc) else 0 for ext, r in before.item_ids().items()}
        assert bench_by_ext == svc_by_ext
        assert sum(bench_by_ext.values()) < 3 * 15 * 26  # clamped: users 0-2 count toward 2 items, not 78
        config = PrivacyConfig.model_validate({"dp_trending": True, "budget": {"epsilon_per_release": 10.0,
                                                                               "max_contributions": 2}})
        rel = PrivateTrending(lambda: before, tmp_path / "home", config).release()
        # scale 0.2: P(|noise| >= 5) is about 2 exp(-25) per item
        assert all(abs(rel.counts.get(ext, 0) - c) <= 4 for ext, c in bench_by_ext.items()), (rel.counts, bench_by_ext)
    finally:
        full.close()
        before.close()


def test_bad_epsilons_are_refused(report_store) -> None:  # noqa: ANN001
    for bad in ([], [0.0], [float("inf")], [-1.0]):
        with pytest.raises(ConfigError, match="positive and finite"):
            dp_trending_backtest(report_store, HOUR, bad)
    with pytest.raises(ConfigError, match="repeats"):
        dp_trending_backtest(report_store, HOUR, [1.0], repeats=0)


def test_a_release_is_served_until_the_next(report_store) -> None:  # noqa: ANN001
    """``release_s``: releases at the configured cadence only, each ranking the windows until the next."""
    hourly: list[str] = []
    rep = dp_trending_backtest(report_store, HOUR, [1e6], k=10, max_contributions=3, repeats=1, log=hourly.append)
    assert len(hourly) == rep.windows == 28 and rep.release_s == HOUR
    six: list[str] = []
    stale = dp_trending_backtest(report_store, HOUR, [1e6], k=10, max_contributions=3, repeats=1, release_s=6 * HOUR,
                                 log=six.append)
    assert len(six) == 5  # hours 24, 30, 36, 42, 48 of the 28 scored (24..51)
    assert stale.ndcg["clamped"]["mean"] != rep.ndcg["clamped"]["mean"]
    assert stale.ndcg["trend_model"] == rep.ndcg["trend_model"]  # the non-private rankings do not depend on it


def test_a_release_window_counts_only_recent_events_in_the_service_and_the_bench(tmp_path: Path) -> None:
    """privacy.trending_window_s: the service's release and the bench's counts are the same function of the
    events in [now - window, now); events before the window count for nothing."""
    from shopsage.privacy.trending import recent
    from shopsage.training.data import store_interactions

    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    now, day = 1_700_000_000.0, 86_400.0
    rows = [EventRow(RowKey("f", i, 0), "view", "old" if i < 6 else "new", f"u{i}", f"s{i}",
                     ts=now - (3 * day if i < 6 else 3600.0)) for i in range(9)]
    assert store.write_events(rows).inserted == 9
    inter = store_interactions(store)
    everything = release_counts_before(inter, now, 10)
    last_day = release_counts_before(inter, now, 10, window_s=day)
    ids = store.item_ids()
    assert (everything[ids["old"]], everything[ids["new"]]) == (6, 3)
    assert (last_day[ids["old"]], last_day[ids["new"]]) == (0, 3)
    assert np.array_equal(last_day, shopper_counts(recent(inter, day, now), 10))
    cfg = PrivacyConfig.model_validate({"dp_trending": True, "trending_window_s": day,
                                        "budget": {"epsilon_per_release": 10, "epsilon_per_period": 100}})
    rel = PrivateTrending(lambda: store, tmp_path / "home", cfg).release(now=now)
    assert "old" not in rel.counts or rel.counts["old"] <= 10  # only noise: 0 shoppers counted
    assert abs(rel.counts.get("new", 0) - 3) <= 10
    store.close()
