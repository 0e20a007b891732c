"""The live trend reads only what was stored since its last refresh: the counts it keeps, and the scores
made from them, equal a rebuild from every stored event, late events with old times included."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.data.rows import EventRow, RowKey
from shopsage.data.stores import open_store
from shopsage.forecast.live import LiveTrend
from shopsage.forecast.trend import RollingCounts, TrendConfig, WindowCounts, window_of

W = 60.0  # seconds per window


def rebuilt(ts: np.ndarray, items: np.ndarray, now: int, horizon: int) -> tuple[WindowCounts, np.ndarray] | None:
    """The reference: bin every event given so far at once, over the windows and items the rolling counts keep."""
    w = window_of(ts, W)
    done = w < now
    if not done.any():
        return None
    lo = max(int(w[done].min()), now - horizon)
    sel = done & (w >= lo)
    rows, cols = np.unique(items[sel], return_inverse=True)
    return WindowCounts.from_events(ts[sel], cols, len(rows), W, start=lo * W, end=now * W), rows


# batches of (seconds after the previous step's window start, item); negative times arrive late
batches = st.lists(st.tuples(st.integers(1, 4),
                             st.lists(st.tuples(st.floats(-30 * W, 3 * W, allow_nan=False), st.integers(0, 6)),
                                      max_size=40)),
                   min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(batches, st.integers(2, 12))
def test_rolling_counts_equal_a_rebuild_after_every_update(steps: list, horizon: int) -> None:
    rolling = RollingCounts(W, horizon)
    now, all_ts, all_items = 40, np.empty(0), np.empty(0, np.int64)
    for advance, evs in steps:
        ts = np.array([now * W + dt for dt, _ in evs], np.float64)
        items = np.array([i for _, i in evs], np.int64)
        now += advance
        all_ts, all_items = np.concatenate([all_ts, ts]), np.concatenate([all_items, items])
        got, want = rolling.update(ts, items, now), rebuilt(all_ts, all_items, now, horizon)
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            assert got[0].start == want[0].start and got[0].n_windows == want[0].n_windows <= horizon + 1
            assert got[1].tolist() == want[1].tolist()
            assert np.array_equal(got[0].counts, want[0].counts)
            assert got[0].counts.shape[1] == len(np.unique(all_items[(window_of(all_ts, W) >= now - horizon)
                                                                    & (window_of(all_ts, W) < now)]))


def _row(k: int, item: int, ts: float, user: str, pos: int = 0) -> EventRow:
    return EventRow(RowKey("api/trend", k, pos), "click", f"i{item}", user, None, ts=ts)


class _Reads:
    """The store, recording the position each read of interactions starts after."""

    def __init__(self, store: object) -> None:
        self.store, self.after = store, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def interactions(self, *args: object, after: int = 0, **kw: object) -> object:
        self.after.append(after)
        return self.store.interactions(*args, after=after, **kw)  # type: ignore[attr-defined]


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _scores(trend: LiveTrend) -> tuple | None:
    cur = trend.current()
    if cur is None:
        return None
    return cur.window, cur.names, cur.scores.tolist(), cur.counts.counts.tolist(), cur.counts.start, cur.half_life


# per refresh: windows the clock moves on, then events (seconds after the previous window start, item,
# user), and whether a shopper is erased before the refresh
refreshes = st.lists(st.tuples(st.integers(1, 3),
                               st.lists(st.tuples(st.floats(-12 * W, 2 * W, allow_nan=False), st.integers(0, 5),
                                                  st.sampled_from(["u0", "u1", "u2"])), max_size=25),
                               st.booleans()),
                     min_size=2, max_size=8)


@settings(max_examples=25, deadline=None)
@given(refreshes)
def test_incremental_refreshes_score_like_a_rebuild_from_the_store(steps: list) -> None:
    config = TrendConfig(window_s=int(W), horizon_windows=8, train_windows=4, half_lives=[1.0, 3.0])
    clock = _Clock()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'trend.db'}")
        try:
            reads = _Reads(store)
            live = LiveTrend(lambda: reads, config, min_windows=2, refit_windows=1, clock=clock)  # type: ignore[arg-type, return-value]
            store.write_events([_row(0, i % 6, (i % 5) * W + 1.0, "u1", i) for i in range(12)])  # windows 0..4
            now, k = 6, 1
            clock.t = now * W
            live.current()
            for advance, evs, erase in steps:
                rows = [_row(k + j, item, now * W + dt, user) for j, (dt, item, user) in enumerate(evs) if now * W + dt >= 0]
                k += len(evs)
                position = int(store.interactions().event_id.max())  # what the last refresh read up to
                store.write_events(rows)  # (an erased shopper's are refused)
                if erase:
                    store.erase_user("u2")
                now += advance
                clock.t = now * W + 1.0
                fresh = LiveTrend(lambda: store, config, min_windows=2, refit_windows=1, clock=clock)
                assert _scores(live) == _scores(fresh)
                # only what arrived since the last refresh is read, unless an erasure deleted events
                assert reads.after[-1] == (0 if erase else position)
                cur = live.current()
                assert cur is None or cur.counts.n_windows <= config.horizon_windows + 1
        finally:
            store.close()


def test_the_refresh_timing_replays_every_event_a_window_at_a_time(tmp_path: Path) -> None:
    from shopsage.forecast.trend_eval import refresh_timing

    rng = np.random.default_rng(0)
    rows = [_row(k, int(rng.integers(6)), float(t), "u1") for k, t in enumerate(np.sort(rng.uniform(0, 30 * W, 300)))]
    store = open_store(f"sqlite:///{tmp_path / 'replay.db'}")
    try:
        out = refresh_timing(store, rows, TrendConfig(window_s=int(W), horizon_windows=8), min_windows=2)
        assert store.stats().events == 300
    finally:
        store.close()
    assert out["windows"] == 30 and out["per_window"]["events_stored"][-1] == 300
    assert sorted(out["per_window"]["events_stored"]) == out["per_window"]["events_stored"]
    assert set(out["summary"]) == {"incremental_read_s", "full_read_s", "refresh_s"}
