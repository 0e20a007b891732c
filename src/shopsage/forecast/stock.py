"""Per-item stock and margin facts for merchant rules: will the item sell out before its restock,
and how much does the shop earn on it.

Demand is the daily forecast of the item's purchases (:func:`~shopsage.forecast.models.point_forecast`
over :func:`~shopsage.forecast.series.events_series`), for the next ``horizon`` days. An item sells
out on the first day its cumulative forecast demand reaches its ``stock``; it *runs out before
restock* when that day comes before its restock (the item attribute ``restock_at``: Unix seconds or
an ISO date; ``restock_days``: days from now), or within the horizon when no restock is planned.
Its margin is ``(price - cost) / price`` with ``cost`` an item attribute. Rules read the facts
(``stockout_risk``, ``min_margin`` in :class:`~shopsage.policy.rules.Rule`) and show them as the
evidence of their reason, so a shopper or merchant sees the forecast behind a demotion.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from shopsage.data.rows import ItemRow
from shopsage.data.stores.base import StoreReader
from shopsage.errors import ShopSageError

if TYPE_CHECKING:
    from shopsage.forecast.models import ForecasterConfig

__all__ = ["StockFact", "stock_fact", "demand_forecasts", "StockFacts", "restock_in_days", "margin_of"]

DAY = 86_400.0


@dataclass(frozen=True)
class StockFact:
    """What the forecast says about one item's stock and what it earns."""

    demand: tuple[float, ...]
    """Forecast purchases per day, from tomorrow on (the horizon)."""
    stock: int | None
    sells_out_in_days: int | None
    """The day (1 = tomorrow) the cumulative forecast demand reaches the stock; None: not within the horizon."""
    restock_in_days: float | None
    margin: float | None
    """``(price - cost) / price``; None without a price and a cost."""

    @property
    def runs_out_before_restock(self) -> bool:
        if self.sells_out_in_days is None:
            return False
        return self.restock_in_days is None or self.sells_out_in_days < self.restock_in_days

    def evidence(self) -> dict[str, Any]:
        return {"stock": self.stock, "forecast_demand_per_day": round(float(np.mean(self.demand)), 3) if self.demand else 0.0,
                "horizon_days": len(self.demand), "sells_out_in_days": self.sells_out_in_days,
                "restock_in_days": None if self.restock_in_days is None else round(self.restock_in_days, 1),
                "runs_out_before_restock": self.runs_out_before_restock,
                "margin": None if self.margin is None else round(self.margin, 4)}

    def describe(self) -> str:
        """A sentence whose numbers are those of :meth:`evidence`."""
        ev = self.evidence()
        if self.runs_out_before_restock:
            text = f"forecast to sell out in {self.sells_out_in_days} day{'s' if self.sells_out_in_days != 1 else ''}"
            text += (f" ({ev['stock']} in stock, {ev['forecast_demand_per_day']:g} a day)")
            return text + ("" if self.restock_in_days is None else f", before its restock in {ev['restock_in_days']:g} days")
        if self.margin is not None:
            return f"margin {self.margin:.0%}"
        return "in stock for the forecast horizon"


def restock_in_days(row: ItemRow, now: float) -> float | None:
    """Days until the item's restock from its attributes (``restock_at`` or ``restock_days``); None: none planned."""
    attrs = row.attributes or {}
    if attrs.get("restock_days") is not None:
        try:
            return max(float(attrs["restock_days"]), 0.0)
        except (TypeError, ValueError):
            return None
    at = attrs.get("restock_at")
    if at is None:
        return None
    try:
        ts = float(at)
    except (TypeError, ValueError):
        try:
            d = datetime.fromisoformat(str(at))
        except ValueError:
            return None
        ts = (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()
    return max((ts - now) / DAY, 0.0)


def margin_of(row: ItemRow) -> float | None:
    """``(price - cost) / price`` from the price and the ``cost`` attribute."""
    cost = (row.attributes or {}).get("cost")
    if row.price is None or row.price <= 0 or cost is None:
        return None
    try:
        c = float(cost)
    except (TypeError, ValueError):
        return None
    return (row.price - c) / row.price if math.isfinite(c) else None


def stock_fact(row: ItemRow, demand: Iterable[float], now: float) -> StockFact:
    """The fact of one item from its row and its daily demand forecast."""
    d = tuple(float(x) for x in demand)
    out: int | None = None
    if row.stock is not None:
        if row.stock <= 0:
            out = 0
        else:
            reached = np.flatnonzero(np.cumsum(d) >= row.stock)
            out = int(reached[0]) + 1 if len(reached) else None
    return StockFact(d, row.stock, out, restock_in_days(row, now), margin_of(row))


def demand_forecasts(store: StoreReader, horizon: int, config: ForecasterConfig | None = None,
                     types: tuple[str, ...] = ("purchase",)) -> dict[str, np.ndarray]:
    """Item -> ``(horizon,)`` forecast daily purchases (items without purchases are absent). A history
    too short for ``config``'s forecaster falls back to the weekday median."""
    from shopsage.forecast.models import ForecasterConfig, point_forecast  # pandas: only when a rule asks
    from shopsage.forecast.series import assumed_future, events_series

    try:
        series = events_series(store, "item", list(types))
    except ShopSageError:
        return {}
    future = assumed_future(series, horizon)
    cfg = config or ForecasterConfig(n_estimators=200)
    try:
        pred = point_forecast(series, future, cfg)
    except (ShopSageError, ValueError):
        pred = point_forecast(series, future, cfg.model_copy(update={"kind": "weekday_median"}))
    frame = future[["unique_id"]].assign(p=pred)
    return {str(u): g.p.to_numpy() for u, g in frame.groupby("unique_id", sort=False)}


class StockFacts:
    """The facts of every item, recomputed at most every ``refresh_s`` seconds (lazily: a shop whose
    rules never ask pays nothing); ``row`` reads the item's current row (stock changes at once)."""

    def __init__(self, store: Callable[[], StoreReader], horizon: int = 14, refresh_s: float = 3600.0,
                 config: ForecasterConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.horizon = horizon
        self.refresh_s = refresh_s
        self.config = config
        self.clock = clock
        self._demand: tuple[float, dict[str, np.ndarray]] | None = None
        self._lock = threading.Lock()

    def demand(self) -> dict[str, np.ndarray]:
        now = self.clock()
        cached = self._demand
        if cached is None or now - cached[0] > self.refresh_s:
            with self._lock:
                if self._demand is None or now - self._demand[0] > self.refresh_s:
                    self._demand = (now, demand_forecasts(self.store(), self.horizon, self.config))
                cached = self._demand
        return cached[1]

    def of(self, row: ItemRow | None) -> StockFact | None:
        """The item's fact (no purchases forecast: a demand of 0 every day)."""
        if row is None:
            return None
        d = self.demand().get(row.ext_id)
        return stock_fact(row, d if d is not None else np.zeros(self.horizon), self.clock())

