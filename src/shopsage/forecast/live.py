"""The trend model on the live path of ``trending``: scores per window, cached, with their evidence.

``trending`` is served on every request, so :class:`LiveTrend` does the work once per window: at
the first request of a new window it reads the timestamped events stored since its last read (live
events are stored before they are applied, so they are in; so are late events with old times: the
read is by event id, :meth:`~shopsage.data.stores.base.StoreReader.interactions` ``after``), bins
them into the window counts it keeps (:class:`~shopsage.forecast.trend.RollingCounts`: the last
``horizon_windows`` complete windows), refits the model every ``refit_windows`` windows, and
scores every item for the window under way from the complete windows before it. Until the next
window starts every request reuses those scores. The first read, and the read after an erasure
(which deletes events), is of every stored event; the scores are the same as a rebuild from all
of them. A store whose timed events span fewer than ``min_windows`` complete windows has no trend
to read: :meth:`LiveTrend.current` returns None and ``trending`` ranks by counts as before.

Reasons state the window and the evidence, recomputable from the stored events
(:func:`trend_reason`): the item's interactions in the last ``span`` windows against the ``span``
before, e.g. "Trending: interactions up 3.0x in the last 6 hours (12, from 4)".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopsage.data.stores.base import StoreReader
from shopsage.forecast.trend import RollingCounts, TrendConfig, TrendModel, WindowCounts, growth_evidence

__all__ = ["LiveTrend", "TrendScores", "trend_reason", "span_words"]


def span_words(windows: int, window_s: float) -> str:
    """"6 hours", "1 hour", "2 days", "90 minutes": ``windows`` windows of ``window_s`` seconds."""
    seconds = windows * window_s
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{int(seconds)} seconds"


def trend_reason(last: int, before: int, span: str, day: int | None = None) -> str:
    """The shopper-facing sentence for ``last`` interactions in the last ``span`` and ``before`` in the
    ``span`` before it (``day``: those of the last 24 hours, said when both are 0); every number in it
    is one of these counts or their ratio to one decimal."""
    def n(k: int) -> str:
        return "1 interaction" if k == 1 else f"{k} interactions"

    if last > before > 0:
        return f"Trending: interactions up {last / before:.1f}x in the last {span} ({last}, from {before})"
    if last > 0 and before == 0:
        return f"Trending: {n(last)} in the last {span}, none in the {span} before"
    if last == 0 and before == 0 and day:
        return f"Popular lately: {n(day)} in the last 24 hours"
    return f"Popular lately: {n(last)} in the last {span}, {before} in the {span} before"


@dataclass
class TrendScores:
    """One window's scores: ``scores[j]`` for the item ``names[j]``; ``counts`` the windows they read."""

    window: int
    """The window under way (its index in ``counts``)."""
    scores: np.ndarray  # (I,) float64
    names: list[str]
    counts: WindowCounts
    half_life: float | None

    def evidence(self, j: int, span: int) -> dict[str, Any]:
        """What a reason states about item ``j``: its counts in the last ``span`` windows and the ``span`` before."""
        last, before = growth_evidence(self.counts, self.window, j, span)
        day, _ = growth_evidence(self.counts, self.window, j, max(int(round(86_400 / self.counts.window_s)), 1))
        start = self.counts.window_start(self.window)
        return {"window_s": int(self.counts.window_s), "span": span_words(span, self.counts.window_s),
                "last": last, "before": before, "last_24h": day, "growth": round(last / before, 1) if before else None,
                "as_of": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
                "expected": round(float(self.scores[j]), 4), "half_life_windows": self.half_life}


class LiveTrend:
    """Trend scores for the current window, cached (see the module docstring); thread-safe."""

    def __init__(self, store: Callable[[], StoreReader], config: TrendConfig | None = None, min_windows: int = 48,
                 refit_windows: int = 24, span: int = 6, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.span = span
        """Windows a reason compares: the last ``span`` against the ``span`` before."""
        self.config = config or TrendConfig()
        self.min_windows = min_windows
        self.refit_windows = refit_windows
        self.clock = clock
        self.model = TrendModel(self.config)
        self._fitted_at: int | None = None  # absolute window number of the last fit
        self._cached: tuple[int, TrendScores | None] | None = None
        self._lock = threading.Lock()
        self._read_from: tuple[str, int, int] | None = None  # (store url, last event id read, last erasure seen)
        self._rolling = RollingCounts(self.config.window_s, self.config.horizon_windows)

    def current(self) -> TrendScores | None:
        """The scores of the window under way, or None when the store's timed events are too few."""
        now_window = int(self.clock() // self.config.window_s)
        cached = self._cached
        if cached is not None and cached[0] == now_window:
            return cached[1]
        with self._lock:
            if self._cached is None or self._cached[0] != now_window:
                self._cached = (now_window, self._compute(now_window))
            return self._cached[1]

    def read(self, now_window: int) -> tuple[WindowCounts, np.ndarray] | None:
        """The window counts up to ``now_window`` (the one under way, empty) and their items' store ids,
        from the events stored since the last read; from all of them on the first read, after an erasure,
        another store, or a clock that went back."""
        store = self.store()
        url, after, erased = self._read_from or (store.url, 0, 0)
        erasures = store.erasures(after=erased)
        if erasures or url != store.url or (self._rolling.now is not None and now_window < self._rolling.now):
            after, erased = 0, max([erased, *(e[0] for e in erasures)])
        if after == 0:
            self._rolling = RollingCounts(self.config.window_s, self.config.horizon_windows)
        inter = store.interactions(after=after)
        self._read_from = (store.url, int(inter.event_id.max()) if len(inter) else after, erased)
        ok = ~np.isnan(inter.ts) & (inter.item >= 0)
        return self._rolling.update(inter.ts[ok], inter.item[ok], now_window)

    def _compute(self, now_window: int) -> TrendScores | None:
        read = self.read(now_window)
        if read is None:
            return None
        wc, row_ids = read
        t = wc.n_windows - 1  # the last window is the one under way (empty: events before it only)
        if t < self.min_windows:
            return None
        if self._fitted_at is None or now_window - self._fitted_at >= self.refit_windows:
            self.model.fit(wc, t)
            self._fitted_at = now_window
        names = {r: e for e, r in self.store().item_ids().items()}
        return TrendScores(t, self.model.predict(wc, t), [names.get(int(r), str(r)) for r in row_ids], wc,
                           self.model.half_life)
