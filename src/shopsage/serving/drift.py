"""Drift monitors on the live event stream: is the shop still the one the models learned?

Events are counted in tumbling windows of ``window_s`` seconds (by the event's own time, so a replay
measures what the live service would); when a window closes it is compared with the one before:

- ``event_mix``: Jensen-Shannon divergence (base 2, 0..1) of the event-type shares (a tracker
  change, a sale turning views into purchases);
- ``popularity``: Jensen-Shannon divergence of the item shares (what shoppers look at moved), and
  ``popularity_vs_usual``, its ratio to the median of the recent windows' (the sampling noise
  of small windows over many items is the usual level; a shift stands out against it);
- ``ctr``: click-through of served lists, the window's events attributed to a list (``context``
  carries its ``query_id`` or ``recomm_id``) per item shown in the window's exposures, when
  the store keeps exposures; the monitor reports its relative drop against the window before;
- ``new_item_embedding``: how much further new items' text vectors lie from the catalogue's centre
  than the catalogue's own items do (``1 - cos``, difference of means), with a text encoder.

Divergences over few events are mostly noise, so a window with fewer than ``min_events`` events is
merged into the next. A monitor over its threshold marks the service for retraining
(:class:`~shopsage.serving.retraining.RetrainSchedule`), and every value is a Prometheus gauge.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.data.schema import Event

__all__ = ["DriftConfig", "DriftMonitor", "embedding_shift", "js_divergence", "replay_drift"]


class DriftConfig(BaseModel):
    """Windows and thresholds of the drift monitors."""

    model_config = ConfigDict(extra="forbid")

    window_s: float = Field(3600.0, gt=0)
    """Length of a window (seconds of event time)."""
    min_events: int = Field(500, ge=1)
    """A window with fewer events is merged into the next before it is compared."""
    max_items: int = Field(50000, ge=100)
    """Distinct items counted per window (the rest are pooled as one 'other')."""
    event_mix: float = Field(0.1, gt=0, le=1)
    """Threshold of the event-type divergence."""
    popularity: float = Field(0.9, gt=0, le=1)
    """Threshold of the item-share divergence itself (near-disjoint windows)."""
    popularity_vs_usual: float = Field(1.5, gt=1)
    """Threshold of the divergence over its median of the last ``history`` windows. Between two
    windows of a few hundred events over thousands of items the divergence is mostly sampling noise
    (yoochoose, hourly: median 0.56), so a shift shows against the shop's usual value, not a constant."""
    history: int = Field(24, ge=3)
    """Windows the usual divergence is the median of (at least 3 before the ratio is reported)."""
    ctr_drop: float = Field(0.3, gt=0, le=1)
    """Threshold of the relative drop of click-through against the window before."""
    new_item_embedding: float = Field(0.15, gt=0, le=2)
    """Threshold of the new items' extra distance from the catalogue's centre."""


def js_divergence(p: Counter[str], q: Counter[str]) -> float:
    """Jensen-Shannon divergence (base 2: 0 = same shares, 1 = disjoint) of two count tables
    (scipy's distance, squared)."""
    from scipy.spatial.distance import jensenshannon

    keys = sorted(set(p) | set(q))
    a = np.array([p.get(k, 0) for k in keys], dtype=np.float64)
    b = np.array([q.get(k, 0) for k in keys], dtype=np.float64)
    if not keys or a.sum() == 0 or b.sum() == 0:
        return 0.0 if a.sum() == b.sum() else 1.0
    return float(np.clip(jensenshannon(a, b, base=2) ** 2, 0.0, 1.0))


def embedding_shift(reference: np.ndarray, new: np.ndarray) -> float:
    """How much further (``1 - cos`` to the reference centre, mean) the ``new`` vectors are than the
    ``reference`` ones themselves; 0 when they are alike, negative when closer."""
    if not len(reference) or not len(new):
        return 0.0
    centre = reference.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    if norm == 0:
        return 0.0
    centre = centre / norm

    def dist(x: np.ndarray) -> float:
        n = np.linalg.norm(x, axis=1)
        n[n == 0] = 1.0
        return float(np.mean(1.0 - (x @ centre) / n))

    return dist(new) - dist(reference)


@dataclass
class _Window:
    start: float
    types: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)
    attributed: int = 0
    events: int = 0


class DriftMonitor:
    """The monitors of one service process (fed by the ingest listener, read by ``/metrics``)."""

    def __init__(self, config: DriftConfig | None = None,
                 exposures: Callable[[float, float], int] | None = None) -> None:
        self.config = config or DriftConfig.model_validate({})
        self._exposures = exposures  # (since, until) -> items shown; None: the store keeps no exposures
        self._lock = threading.Lock()
        self._open: _Window | None = None
        self._closed: _Window | None = None  # the last window compared (or waiting for its successor)
        self.values: dict[str, float] = {}
        self.windows = 0
        self._usual: deque[float] = deque(maxlen=self.config.history)  # recent popularity divergences
        self.embedding: Callable[[], float | None] | None = None
        """Set by the service when it has item vectors: the new items' shift."""

    def observe(self, events: Sequence[Event]) -> None:
        """Count a request's stored events (an ingest listener)."""
        for e in events:
            ts = e.timestamp if e.timestamp is not None else time.time()
            ctx = e.context
            attributed = ctx is not None and (getattr(ctx, "recomm_id", None) or getattr(ctx, "query_id", None))
            self.add(e.type, e.item, ts, bool(attributed) and e.type != "impression")

    def add(self, typ: str, item: str | None, ts: float, attributed: bool = False) -> None:
        """One event at time ``ts``; closes the window it ends."""
        with self._lock:
            w = self._open
            if w is None:
                w = self._open = _Window(ts - ts % self.config.window_s)
            elif ts >= w.start + self.config.window_s and w.events >= self.config.min_events:
                self._close(w)
                w = self._open = _Window(ts - ts % self.config.window_s)
            w.types[typ] += 1
            w.events += 1
            w.attributed += int(attributed)
            if item is not None and (item in w.items or len(w.items) < self.config.max_items):
                w.items[item] += 1
            elif item is not None:
                w.items["\0other"] += 1

    def _close(self, w: _Window) -> None:
        prev = self._closed
        self._closed = w
        self.windows += 1
        if prev is None:
            return
        self.values["event_mix"] = js_divergence(prev.types, w.types)
        pop = js_divergence(prev.items, w.items)
        self.values["popularity"] = pop
        if len(self._usual) >= 3:
            usual = float(np.median(self._usual))
            self.values["popularity_vs_usual"] = pop / usual if usual > 0 else 1.0
        self._usual.append(pop)
        if self._exposures is not None:
            end = w.start + self.config.window_s
            shown_prev = self._exposures(prev.start, w.start)
            shown = self._exposures(w.start, end)
            if shown_prev > 0 and shown > 0:
                before, now = prev.attributed / shown_prev, w.attributed / shown
                self.values["ctr"] = now
                self.values["ctr_drop"] = max(0.0, 1.0 - now / before) if before > 0 else 0.0

    def report(self) -> dict[str, float]:
        """Every monitor's latest value (embedding drift computed now)."""
        out = dict(self.values)
        if self.embedding is not None:
            shift = self.embedding()
            if shift is not None and math.isfinite(shift):
                out["new_item_embedding"] = shift
        return out

    def over(self) -> list[str]:
        """The monitors over their thresholds (each ``name value > threshold``)."""
        limits = {"event_mix": self.config.event_mix, "popularity": self.config.popularity,
                  "popularity_vs_usual": self.config.popularity_vs_usual,
                  "ctr_drop": self.config.ctr_drop, "new_item_embedding": self.config.new_item_embedding}
        return [f"{k} {v:.3f} > {limits[k]:g}" for k, v in self.report().items() if k in limits and v > limits[k]]


def replay_drift(events: Sequence[tuple[str, str | None, float]], config: DriftConfig) -> list[dict[str, float]]:
    """The monitors' values at each window a replay of ``(type, item, ts)`` events closes (time order)."""
    mon = DriftMonitor(config)
    out: list[dict[str, float]] = []
    for typ, item, ts in sorted(events, key=lambda e: e[2]):
        before = mon.windows
        mon.add(typ, item, ts)
        if mon.windows != before and mon.values:
            out.append({"window_start": mon._closed.start if mon._closed else ts, **mon.values})  # noqa: SLF001
    return out
