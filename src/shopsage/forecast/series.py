"""Demand series in one long format, from a retail-sales file or from the shop's own events.

Every forecaster reads a :class:`DemandSeries`: one row per series and day with the columns
``unique_id`` (the store, item or category), ``ds`` (the day), ``y`` (sales or interactions) and
the known-in-advance covariates :data:`COVARIATES` (``open``, ``promo``, ``state_holiday``,
``school_holiday``; 0/1 except ``state_holiday``: 0 none, 1 public, 2 Easter, 3 Christmas, the
Rossmann codes ``0 a b c``). Covariates are known for the forecast days too (a shop knows when it
is closed and which promotions it runs), so the future is a frame of the same columns less ``y``.

Days missing from the data are filled as closed with 0 sales (``open = 0``) for the retail-sales
format: a store absent for half a year (several Rossmann stores are) was not selling. For events,
a day without events is an open day with a count of 0: the shop was open, nobody came.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from shopsage.data.stores.base import StoreReader
from shopsage.errors import ImportFormatError, ValidationError

__all__ = ["COVARIATES", "DemandSeries", "read_retail_sales", "read_retail_future", "events_series",
           "assumed_future", "check_future"]

COVARIATES = ("open", "promo", "state_holiday", "school_holiday")
"""The known-in-advance columns of every series frame (and of its future)."""

_HOLIDAY_CODES = {"0": 0, "a": 1, "b": 2, "c": 3}
_RETAIL_COLUMNS = ("Store", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday")
DAY = 86_400.0


@dataclass
class DemandSeries:
    """Daily series in long format (``unique_id, ds, y`` + :data:`COVARIATES`), sorted by id and day.

    ``id_name`` is what a series is (``Store``, ``item``, ``category``): the output file's first
    column; ``value_name`` what ``y`` counts (``Sales``, ``count``)."""

    frame: pd.DataFrame
    id_name: str
    value_name: str

    def __post_init__(self) -> None:
        missing = [c for c in ("unique_id", "ds", "y", *COVARIATES) if c not in self.frame.columns]
        if missing:
            raise ValidationError(f"a demand series frame needs the columns {', '.join(missing)}")

    @property
    def ids(self) -> list[str]:
        return sorted(self.frame.unique_id.unique().tolist())

    @property
    def last_day(self) -> pd.Timestamp:
        return pd.Timestamp(self.frame.ds.max())

    def until(self, day: pd.Timestamp) -> DemandSeries:
        """The days before ``day`` (a backtest's training part)."""
        return DemandSeries(self.frame[self.frame.ds < day].reset_index(drop=True), self.id_name, self.value_name)

    def since(self, day: pd.Timestamp) -> DemandSeries:
        return DemandSeries(self.frame[self.frame.ds >= day].reset_index(drop=True), self.id_name, self.value_name)


def _complete(frame: pd.DataFrame, missing_open: int) -> pd.DataFrame:
    """Every day between a series' first day and the last day of the data, gaps filled with
    ``y = 0`` and ``open = missing_open``."""
    end = frame.ds.max()
    parts = []
    for uid, g in frame.groupby("unique_id", sort=True):
        days = pd.date_range(g.ds.min(), end, freq="D")
        full = g.set_index("ds").reindex(days)
        full.index.name = "ds"
        full["unique_id"] = uid
        parts.append(full.reset_index())
    out = pd.concat(parts, ignore_index=True)
    out["y"] = out.y.fillna(0.0)
    out["open"] = out.open.fillna(missing_open)
    for c in ("promo", "state_holiday", "school_holiday"):
        out[c] = out[c].fillna(0)
    for c in COVARIATES:
        out[c] = out[c].astype(np.int8)
    return out[["unique_id", "ds", "y", *COVARIATES]]


def _retail_covariates(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    missing = [c for c in _RETAIL_COLUMNS if c not in raw.columns]
    if missing:
        raise ImportFormatError(f"{path} is not in the retail-sales format: it lacks {', '.join(missing)} (expected "
                                f"Store,DayOfWeek,Date,Sales,Customers,Open,Promo,StateHoliday,SchoolHoliday)")
    hol = raw.StateHoliday.astype(str).str.strip().map(_HOLIDAY_CODES)
    if hol.isna().any():
        bad = sorted(set(raw.StateHoliday.astype(str)[hol.isna()]))[:5]
        raise ImportFormatError(f"{path}: StateHoliday must be 0, a, b or c; found {bad}")
    try:
        ds = pd.to_datetime(raw.Date, format="%Y-%m-%d")
    except ValueError as exc:
        raise ImportFormatError(f"{path}: Date must be YYYY-MM-DD ({exc})") from None
    return pd.DataFrame({"unique_id": raw.Store.astype(str), "ds": ds,
                         "open": raw.Open.fillna(1).astype(np.int8), "promo": raw.Promo.fillna(0).astype(np.int8),
                         "state_holiday": hol.astype(np.int8), "school_holiday": raw.SchoolHoliday.fillna(0).astype(np.int8)})


def read_retail_sales(path: str | Path) -> DemandSeries:
    """A Rossmann-style ``train.csv`` (``Store,DayOfWeek,Date,Sales,...``): one series per store."""
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path} does not exist: give the retail-sales train.csv with --data")
    raw = pd.read_csv(path, dtype={"StateHoliday": str}, low_memory=False)
    if "Sales" not in raw.columns:
        raise ImportFormatError(f"{path} has no Sales column: a history needs it (a file of future days goes to --future)")
    frame = _retail_covariates(raw, path)
    frame["y"] = raw.Sales.astype(np.float64).to_numpy()
    if frame.duplicated(["unique_id", "ds"]).any():
        raise ImportFormatError(f"{path} has several rows for one store and day: keep one row per Store and Date")
    return DemandSeries(_complete(frame, missing_open=0), "Store", "Sales")


def read_retail_future(path: str | Path) -> pd.DataFrame:
    """The forecast days' covariates (a Rossmann ``test.csv``: ``Store,Date,Open,Promo,...``; ``Id``,
    ``Sales`` and ``DayOfWeek`` are ignored). A missing ``Open`` counts as open, as Kaggle scored it."""
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path} does not exist: give the forecast days' covariates with --future")
    raw = pd.read_csv(path, dtype={"StateHoliday": str}, low_memory=False)
    return _retail_covariates(raw, path).sort_values(["unique_id", "ds"]).reset_index(drop=True)


def events_series(store: StoreReader, level: Literal["item", "category"] = "item",
                  types: Sequence[str] | None = None, min_events: int = 1) -> DemandSeries:
    """Daily interaction counts per item (its external id) or per top-level category from the store's
    timestamped events of ``types`` (all types when None). Events with only an ordinal have no day and
    are left out; a series starts on its first day with an event. ``min_events``: series with fewer
    events in all are left out (a forecast of an item seen twice is noise)."""
    inter = store.interactions(types)
    ok = ~np.isnan(inter.ts) & (inter.item >= 0)
    if not ok.any():
        raise ValidationError("the store holds no timestamped item events: demand forecasting needs events with a "
                              "timestamp (import them with their times, or send them to POST /v1/events)")
    names = {row_id: ext for ext, row_id in store.item_ids().items()}
    items = inter.item[ok]
    if level == "category":
        cats = {names[r]: (row.category_path[0] if row.category_path else "(none)") for r, row in store.items()
                if r in names}
        keys = np.array([cats.get(names.get(int(i), ""), "(none)") for i in items], dtype=object)
    else:
        keys = np.array([names.get(int(i), str(i)) for i in items], dtype=object)
    day = pd.to_datetime(np.floor(inter.ts[ok] / DAY) * DAY, unit="s")
    counts = pd.DataFrame({"unique_id": keys, "ds": day}).groupby(["unique_id", "ds"]).size().rename("y").reset_index()
    totals = counts.groupby("unique_id").y.transform("sum")
    counts = counts[totals >= min_events]
    if counts.empty:
        raise ValidationError(f"no {level} has {min_events} events or more: lower --min-events")
    for c in COVARIATES:
        counts[c] = 1 if c == "open" else 0
    return DemandSeries(_complete(counts.astype({"y": np.float64}), missing_open=1), level, "count")


def assumed_future(series: DemandSeries, horizon: int) -> pd.DataFrame:
    """The next ``horizon`` days' covariates when no future file is given: a series is open on a weekday
    when it was open on that weekday in at least half of its last 4 weeks; no promotion and no holiday
    (say so to the user: a shop that knows its plans gives them with ``--future``)."""
    if horizon < 1:
        raise ValidationError(f"horizon of {horizon} days must be at least 1")
    f = series.frame
    recent = f[f.ds > series.last_day - pd.Timedelta(days=28)]
    usual = recent.assign(dow=recent.ds.dt.day_of_week).groupby(["unique_id", "dow"]).open.mean()
    days = pd.date_range(series.last_day + pd.Timedelta(days=1), periods=horizon, freq="D")
    out = pd.DataFrame([(u, d) for u in series.ids for d in days], columns=["unique_id", "ds"])
    key = pd.MultiIndex.from_arrays([out.unique_id, out.ds.dt.day_of_week])
    out["open"] = (usual.reindex(key).fillna(1.0).to_numpy() >= 0.5).astype(np.int8)
    for c in ("promo", "state_holiday", "school_holiday"):
        out[c] = np.int8(0)
    return out


def check_future(series: DemandSeries, future: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The first ``horizon`` days after the history for every series, from ``future``; an error that
    names what is missing otherwise."""
    days = pd.date_range(series.last_day + pd.Timedelta(days=1), periods=horizon, freq="D")
    want = pd.MultiIndex.from_product([series.ids, days], names=["unique_id", "ds"])
    have = future.set_index(["unique_id", "ds"])
    have = have[~have.index.duplicated(keep="last")]
    lacking = want.difference(have.index)
    if len(lacking):
        u, d = lacking[0]
        raise ValidationError(f"the future file lacks {len(lacking)} of the {len(want)} series-days after the history "
                              f"(first: {series.id_name} {u} on {d:%Y-%m-%d}); give every series each day of the "
                              f"{horizon}-day horizon, or a shorter --horizon")
    return have.loc[want, list(COVARIATES)].reset_index()

