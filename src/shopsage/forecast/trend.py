"""Trend forecasting: each item's interactions in the next window, from its recent windows.

The shop's timestamped events are binned into windows (an hour by default) per item,
:class:`WindowCounts`. For the window ``t`` about to start, every item active in the last week of
windows gets features from the windows before ``t`` only: its counts in the last 1, 3, 6, 24 and
168 windows and all time, the window a day and a week earlier, its growth (the last 6 windows
against the 6 before), its age, and the shop's hour of day, day of week and traffic, so that a
model learns both momentum and the daily cycle. A LightGBM regressor with a Poisson objective
(counts are counts) maps them to the expected count of window ``t``: :class:`TrendModel`.

:func:`served_score` is what ``trending`` ranked by before: every interaction of all time plus
those of the last 24 hours (the state's live window) counted again. The backtest
(:mod:`~shopsage.forecast.trend_eval`) compares both on the windows that follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.ranking_metrics import ndcg

__all__ = ["TrendConfig", "WindowCounts", "RollingCounts", "TrendModel", "window_features", "served_score", "decayed_score",
           "FEATURE_NAMES", "growth_evidence", "window_ndcg"]

FEATURE_NAMES = ("last_1", "last_3", "last_6", "last_24", "last_168", "all_time", "day_ago", "week_ago", "prev_6",
                 "growth_6", "age", "hour", "weekday", "shop_last_1", "shop_last_24", "share_24", "decayed_3",
                 "decayed_6", "decayed_24")
_WEEK = 168
_DAY = 24


class TrendConfig(BaseModel):
    """The trend model (``[scenarios.trending]`` generators with ``trend = "forecast"``)."""

    model_config = ConfigDict(extra="forbid")

    window_s: int = Field(default=3600, ge=60, le=7 * 86_400)
    """Seconds per window: the model forecasts the next window's count (an hour by default)."""
    n_estimators: int = Field(default=200, ge=10, le=5000)
    """Boosting rounds of the Poisson LightGBM."""
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    num_leaves: int = Field(default=31, ge=2, le=1024)
    train_windows: int = Field(default=24 * 14, ge=1)
    """How many of the latest windows become training examples (each: every active item)."""
    horizon_windows: int = Field(default=24 * 21, ge=2)
    """The complete windows the trend reads, the latest first (older events are no longer read or kept):
    ``train_windows`` plus the week of history each training window's features look back on."""
    seed: int = 0
    objective: Literal["decay", "glm", "lgbm"] = "decay"
    """``decay``: counts decayed with the half-life (of ``half_lives``) that ranked the training windows
    best by NDCG@20, refitted as the shop's rhythm changes; ``glm``: a Poisson regression (log link) on the logarithms of the features: the next count as a
    product of powers of the recent counts, growth and the time of day; ``lgbm``: a LightGBM regressor
    with the Poisson objective on the raw features."""
    half_lives: list[float] = Field(default_factory=lambda: [1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0])
    """``decay``: the half-lives (in windows) to choose from."""
    candidates: int = Field(default=500, ge=20)
    """Items scored per window: the most popular by a count decayed with a 24-window half-life (the rest
    score 0). It keeps training on the items that can reach a list, and the live path cheap."""
    alpha: float = Field(default=1e-4, ge=0)
    """``glm``: L2 penalty."""


@dataclass
class WindowCounts:
    """Interactions per window and item: ``counts[w, i]`` for window ``w`` starting at
    ``start + w * window_s``; items are contiguous ids ``0..n_items-1``."""

    counts: np.ndarray  # (W, I) float32
    start: float
    window_s: float

    @classmethod
    def from_events(cls, ts: np.ndarray, items: np.ndarray, n_items: int, window_s: float,
                    start: float | None = None, end: float | None = None) -> WindowCounts:
        """Bin events at Unix times ``ts`` of item ids ``items``; windows are aligned to whole multiples
        of ``window_s`` (hours start on the hour, UTC), from ``start`` (default: the first event's)
        up to the window holding ``end`` (default: the last event)."""
        ts = np.asarray(ts, np.float64)
        items = np.asarray(items, np.int64)
        first = float(ts.min()) if start is None else start
        begin = int(np.floor(first / window_s))
        last = float(ts.max()) if end is None else end
        n_windows = int(np.floor(last / window_s)) - begin + 1
        w = window_of(ts, window_s) - begin
        ok = (w >= 0) & (w < n_windows) & (items >= 0) & (items < n_items)
        counts = np.zeros((n_windows, n_items), np.float32)
        np.add.at(counts, (w[ok], items[ok]), 1.0)
        return cls(counts, float(begin * window_s), float(window_s))

    @property
    def n_windows(self) -> int:
        return int(self.counts.shape[0])

    def window_start(self, w: int) -> float:
        return self.start + w * self.window_s


def window_of(ts: np.ndarray, window_s: float) -> np.ndarray:
    """The absolute window number of each time: ``floor(ts / window_s)`` (window ``k`` starts at ``k * window_s``)."""
    return np.floor(np.asarray(ts, np.float64) / window_s).astype(np.int64)


class RollingCounts:
    """:class:`WindowCounts` of the last ``horizon`` complete windows, kept current from the events stored
    since the last update: each update bins only those (late ones into their old windows), drops the
    windows that left the horizon and the items no longer in it, and holds back events of the window under
    way (or later) until it is complete. Memory is bounded by ``horizon`` times the items active in it.

    After any sequence of updates the counts equal one :meth:`WindowCounts.from_events` over every event
    ever given, cut to the same windows and items (:meth:`update`'s docstring)."""

    def __init__(self, window_s: float, horizon: int) -> None:
        self.window_s = float(window_s)
        self.horizon = int(horizon)
        self.first: int | None = None  # the window of the earliest complete-window event ever given
        self.items = np.empty(0, np.int64)  # (I,) sorted item ids, one column each
        self.counts = np.zeros((0, 0), np.float32)  # (W, I) windows start .. start + W - 1
        self.start = 0
        self.now: int | None = None
        self._held = (np.empty(0, np.float64), np.empty(0, np.int64))  # events of the window under way or later

    def update(self, ts: np.ndarray, items: np.ndarray, now: int) -> tuple[WindowCounts, np.ndarray] | None:
        """Add events (times, item ids) and move to window ``now`` (the one under way). Returns the counts
        of windows ``max(first, now - horizon) .. now`` (the last one empty) over the items with an event in
        them, sorted, and those item ids; None before any event of a complete window."""
        if self.now is not None and now < self.now:
            raise ValueError(f"window {now} is before window {self.now} that the counts were moved to already")
        ts = np.concatenate([self._held[0], np.asarray(ts, np.float64)])
        items = np.concatenate([self._held[1], np.asarray(items, np.int64)])
        w = window_of(ts, self.window_s)
        due = w < now
        self._held = (ts[~due], items[~due])
        w, items = w[due], items[due]
        if len(w):
            self.first = int(w.min()) if self.first is None else min(self.first, int(w.min()))
        self.now = now
        if self.first is None:
            return None
        lo = max(self.first, now - self.horizon)
        keep = w >= lo
        w, items = w[keep], items[keep]
        rows = np.union1d(self.items, items)
        counts = np.zeros((now - lo + 1, len(rows)), np.float32)
        a, b = max(lo, self.start), min(now, self.start + self.counts.shape[0])
        if b > a and len(self.items):
            counts[a - lo:b - lo, np.searchsorted(rows, self.items)] = self.counts[a - self.start:b - self.start]
        np.add.at(counts, (w - lo, np.searchsorted(rows, items)), 1.0)
        alive = counts.any(0)
        self.items, self.counts, self.start = rows[alive], np.ascontiguousarray(counts[:, alive]), lo
        return WindowCounts(self.counts, lo * self.window_s, self.window_s), self.items


def _window_sum(cum: np.ndarray, t: int, k: int) -> np.ndarray:
    """Sum of counts over windows ``[t - k, t)``; ``cum[w]`` = sum of windows ``< w``."""
    return cum[t] - cum[max(t - k, 0)]


def _decayed(recent: np.ndarray, half_life: float) -> np.ndarray:
    """``recent``: (k, n) counts of the last k windows, oldest first; each weighs 0.5 ** (age / half_life)."""
    age = np.arange(len(recent), 0, -1, dtype=np.float64) - 0.5  # the last window is half a window old
    return (0.5 ** (age / half_life)) @ recent


def window_features(wc: WindowCounts, t: int, cum: np.ndarray | None = None, first_seen: np.ndarray | None = None,
                    top: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(items, X)``: the items with an interaction in the ``168`` windows before ``t`` (only the
    ``top`` of them by their count decayed with a 24-window half-life, when given) and their
    ``(n, len(FEATURE_NAMES))`` features, from windows before ``t`` only."""
    cum = np.vstack([np.zeros((1, wc.counts.shape[1]), np.float64), np.cumsum(wc.counts, 0, dtype=np.float64)]) \
        if cum is None else cum
    last_week = _window_sum(cum, t, _WEEK)
    items = np.flatnonzero(last_week > 0)
    if top is not None and len(items) > top:
        d24 = _decayed(wc.counts[max(t - _WEEK, 0):t, items].astype(np.float64), 24.0)
        items = np.sort(items[np.argsort(-d24, kind="stable")[:top]])
    c = cum[:, items]
    s = {k: _window_sum(c, t, k) for k in (1, 3, 6, 12, _DAY, _WEEK)}
    day_ago = wc.counts[t - _DAY, items] if t >= _DAY else np.zeros(len(items))
    week_ago = wc.counts[t - _WEEK, items] if t >= _WEEK else np.zeros(len(items))
    prev6 = s[12] - s[6]
    growth = (s[6] + 1.0) / (prev6 + 1.0)
    if first_seen is None:
        seen = wc.counts[:t, items] > 0
        first = np.where(seen.any(0), seen.argmax(0), t)
    else:
        first = first_seen[items]
    age = np.minimum(t - first, 10 * _WEEK).astype(np.float64)
    start = wc.window_start(t)
    hour = np.full(len(items), (start % 86_400) / 3600.0)
    weekday = np.full(len(items), float((int(start // 86_400) + 3) % 7))  # 1970-01-01 was a Thursday: Monday = 0
    shop_1 = float(_window_sum(cum, t, 1).sum())
    shop_24 = float(_window_sum(cum, t, _DAY).sum())
    share = s[_DAY] / max(shop_24, 1.0)
    recent = wc.counts[max(t - _WEEK, 0):t, items].astype(np.float64)  # (<=168, n), oldest first
    decayed = [_decayed(recent, h) for h in (3.0, 6.0, 24.0)]
    X = np.column_stack([s[1], s[3], s[6], s[_DAY], s[_WEEK], c[t], day_ago, week_ago, prev6, growth, age, hour,
                         weekday, np.full(len(items), shop_1), np.full(len(items), shop_24), share, *decayed])
    return items, X.astype(np.float32)


def served_score(wc: WindowCounts, t: int) -> np.ndarray:
    """``(I,)``: what ``trending`` served before the trend model: all-time counts before window ``t``
    plus those of the last 24 hours again (the store's counts plus the state's live window)."""
    before = wc.counts[:t].sum(0, dtype=np.float64)
    day = max(int(round(86_400 / wc.window_s)), 1)
    return before + wc.counts[max(t - day, 0):t].sum(0, dtype=np.float64)


def decayed_score(wc: WindowCounts, t: int, half_life_windows: float) -> np.ndarray:
    """``(I,)``: counts before window ``t``, each weighing ``0.5 ** (age / half_life)`` (age in windows)."""
    return _decayed(wc.counts[:t].astype(np.float64), half_life_windows)


def growth_evidence(wc: WindowCounts, t: int, item: int, span: int = 6) -> tuple[int, int]:
    """``(last, before)``: the item's interactions in the ``span`` windows before ``t`` and in the
    ``span`` windows before those: the evidence a trending reason states."""
    last = int(wc.counts[max(t - span, 0):t, item].sum())
    before = int(wc.counts[max(t - 2 * span, 0):max(t - span, 0), item].sum())
    return last, before


def window_ndcg(score: np.ndarray, actual: np.ndarray, k: int) -> float:
    """NDCG@k of the ranking by ``score`` (ties: lower id first; items scoring 0 are not listed) with the
    ``actual`` counts as gains (:func:`shopsage.ranking_metrics.ndcg`)."""
    top = np.argsort(-score, kind="stable")[:k]
    top = top[score[top] > 0]
    gains = np.zeros((1, k))
    gains[0, : len(top)] = actual[top]
    ideal = np.zeros((1, k))
    best = np.sort(actual)[::-1][:k]
    ideal[0, : len(best)] = best
    return float(ndcg(gains, ideal)[0])


class TrendModel:
    """The next window's count per item: ``decay`` (the half-life that ranked the training windows best),
    ``glm`` or ``lgbm`` (regressions on :func:`window_features`); see :class:`TrendConfig`."""

    def __init__(self, config: TrendConfig | None = None) -> None:
        self.config = config or TrendConfig()
        self._model: Any = None
        self.half_life: float | None = None
        """``decay``: the half-life (in windows) chosen by the last fit."""

    @property
    def fitted(self) -> bool:
        return self._model is not None or self.half_life is not None

    def _windows(self, until: int) -> range:
        return range(max(1, until - self.config.train_windows), until)

    def _fit_decay(self, wc: WindowCounts, until: int) -> None:
        """The half-life of :attr:`TrendConfig.half_lives` whose decayed counts had the best mean NDCG@20
        over the training windows (ties: the first listed)."""
        best, best_h = -1.0, None
        for h in self.config.half_lives:
            r = 0.5 ** (1.0 / h)
            state = np.zeros(wc.counts.shape[1])
            scores = []
            for t in range(1, until):  # state = the counts before t, decayed to the start of t
                state = state * r + wc.counts[t - 1] * np.sqrt(r)
                if t in self._windows(until) and wc.counts[t].any():
                    scores.append(window_ndcg(state, wc.counts[t].astype(np.float64), 20))
            mean = float(np.mean(scores)) if scores else -1.0
            if mean > best:
                best, best_h = mean, h
        self.half_life = best_h

    def fit(self, wc: WindowCounts, until: int) -> TrendModel:
        """Learn from the windows before ``until``: each window ``t`` of the last ``train_windows`` is one
        example (``decay``: one ranking to score) or one row per candidate item (the regressions, whose
        target is the item's count in window ``t``)."""
        c = self.config
        self._model, self.half_life = None, None
        if c.objective == "decay":
            self._fit_decay(wc, until)
            return self
        cum = np.vstack([np.zeros((1, wc.counts.shape[1])), np.cumsum(wc.counts, 0, dtype=np.float64)])
        first_seen = _first_seen(wc)
        xs, ys = [], []
        for t in self._windows(until):
            items, X = window_features(wc, t, cum, first_seen, c.candidates)
            xs.append(X)
            ys.append(wc.counts[t, items])
        if not xs or sum(len(x) for x in xs) == 0:
            return self
        X, y = np.vstack(xs), np.concatenate(ys)
        if c.objective == "glm":
            from sklearn.linear_model import PoissonRegressor
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            self._model = make_pipeline(StandardScaler(), PoissonRegressor(alpha=c.alpha, max_iter=300))
            self._model.fit(_glm_inputs(X), y)
        else:
            import lightgbm as lgb

            self._model = lgb.LGBMRegressor(objective="poisson", n_estimators=c.n_estimators, learning_rate=c.learning_rate,
                                            num_leaves=c.num_leaves, min_child_samples=20, subsample=0.8, subsample_freq=1,
                                            colsample_bytree=0.8, random_state=c.seed, n_jobs=1, verbose=-1)
            self._model.fit(X, y)
        return self

    def predict(self, wc: WindowCounts, t: int) -> np.ndarray:
        """``(I,)`` scores of window ``t`` (expected counts up to a factor for ``decay``; 0 for items
        inactive the week before, and for all before a fit)."""
        if self.half_life is not None:
            return decayed_score(wc, t, self.half_life)
        out = np.zeros(wc.counts.shape[1], np.float64)
        if self._model is None:
            return out
        items, X = window_features(wc, t, top=self.config.candidates)
        if len(items):
            out[items] = self._model.predict(_glm_inputs(X) if self.config.objective == "glm" else X)
        return out


def _glm_inputs(X: np.ndarray) -> np.ndarray:
    """Counts as ``log1p`` (a multiplicative model of them); the hour and weekday as cyclic pairs."""
    names = FEATURE_NAMES
    hour, weekday = X[:, names.index("hour")], X[:, names.index("weekday")]
    rest = [i for i, n in enumerate(names) if n not in ("hour", "weekday")]
    return np.column_stack([np.log1p(np.maximum(X[:, rest], 0)), np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
                            np.sin(2 * np.pi * weekday / 7), np.cos(2 * np.pi * weekday / 7)])


def _first_seen(wc: WindowCounts) -> np.ndarray:
    seen = wc.counts > 0
    return np.where(seen.any(0), seen.argmax(0), wc.n_windows)
