"""What ``shopsage forecast`` reads and writes: a history by format, the future's covariates, and
the forecast file (``Store,Date,Sales`` or ``item,Date,count`` with interval columns)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from shopsage.data.stores import open_store
from shopsage.errors import ValidationError
from shopsage.forecast.series import (
    DemandSeries,
    assumed_future,
    check_future,
    events_series,
    read_retail_future,
    read_retail_sales,
)

__all__ = ["SeriesFormat", "load_history", "future_for", "write_forecast"]

SeriesFormat = Literal["retail-sales", "events"]


def _store_url(data: str) -> str:
    """A store URL, or a SQLite file given as a plain path."""
    return data if "://" in data else f"sqlite:///{Path(data)}"


def load_history(data: str, fmt: SeriesFormat, level: Literal["item", "category"] = "item",
                 types: Sequence[str] | None = None, min_events: int = 1) -> DemandSeries:
    """``retail-sales``: a Rossmann-style train.csv (one series per store). ``events``: a store (URL,
    or the path of a SQLite store file) whose timestamped events are counted per day and ``level``."""
    if fmt == "retail-sales":
        return read_retail_sales(data)
    if fmt == "events":
        store = open_store(_store_url(data), create=False)
        try:
            return events_series(store, level, types, min_events)
        finally:
            store.close()
    raise ValidationError(f"unknown format {fmt!r}: use retail-sales or events")


def future_for(series: DemandSeries, horizon: int, future: Path | None) -> tuple[pd.DataFrame, bool]:
    """The horizon's covariates from ``future`` (a retail-sales file of the forecast days), else
    assumed from the last 4 weeks (:func:`~shopsage.forecast.series.assumed_future`); the flag says
    they were assumed."""
    if future is None:
        return assumed_future(series, horizon), True
    return check_future(series, read_retail_future(future), horizon), False


def write_forecast(path: Path, series: DemandSeries, frame: pd.DataFrame) -> int:
    """``<id>,Date,<value>`` then ``lo_L,hi_L`` per level, rounded to 0.01; returns the rows written."""
    out = frame.rename(columns={"unique_id": series.id_name, "point": series.value_name})
    out["Date"] = out.pop("ds").dt.strftime("%Y-%m-%d")
    cols = [series.id_name, "Date", series.value_name, *[c for c in out.columns if c.startswith(("lo_", "hi_"))]]
    path.parent.mkdir(parents=True, exist_ok=True)
    out[cols].round(2).to_csv(path, index=False)
    return len(out)
