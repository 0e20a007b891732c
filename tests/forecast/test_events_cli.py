"""Demand from the shop's own events, and the ``shopsage forecast`` command on both formats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.data.stores import open_store
from shopsage.forecast import events_series

DAY = 86_400.0
T0 = 1_700_006_400.0  # a midnight UTC


def _event_store(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = open_store(url)
    store.write_items([ItemRow("a", "A", category_path=("Tools", "Saws")), ItemRow("b", "B", category_path=("Tools",)),
                       ItemRow("c", "C", category_path=("Lab",))])
    rows, line = [], 0
    for day in range(70):
        for k in range(2 + (day % 7 == 5) * 4):  # item a: 2 views a day, 6 on the sixth weekday of the week
            line += 1
            rows.append(EventRow(RowKey("t", line), "view", "a", None, f"s{line}", ts=T0 + day * DAY + 60 * k))
        if day % 2 == 0:
            line += 1
            rows.append(EventRow(RowKey("t", line), "purchase", "b", None, f"s{line}", ts=T0 + day * DAY + 5))
    line += 1
    rows.append(EventRow(RowKey("t", line), "view", "c", None, "x", ordinal=0))  # no time: left out
    store.write_events(rows)
    store.close()
    return url


def test_daily_counts_per_item_and_category(tmp_path: Path) -> None:
    store = open_store(_event_store(tmp_path / "shop.db"))
    items = events_series(store, "item")
    a = items.frame[items.frame.unique_id == "a"]
    assert items.ids == ["a", "b"] and len(a) == 70 and a.y.sum() == 70 * 2 + 10 * 4
    b = items.frame[items.frame.unique_id == "b"]
    assert b.y.tolist()[:4] == [1, 0, 1, 0] and (b.open == 1).all()  # a day without events is open, with 0
    cats = events_series(store, "category", ["view"])
    assert cats.ids == ["Tools"] and cats.frame.y.sum() == 180
    store.close()


def test_forecast_command_writes_rows_with_intervals(tmp_path: Path, retail: Callable[..., Path]) -> None:
    runner = CliRunner()
    train = retail(days=320)
    frame = pd.read_csv(train, dtype={"StateHoliday": str})
    future = frame[frame.Date >= "2014-10-20"].drop(columns=["Sales", "Customers"])
    history = frame[frame.Date < "2014-10-20"]
    history.to_csv(tmp_path / "hist.csv", index=False)
    future.to_csv(tmp_path / "future.csv", index=False)
    out = tmp_path / "fc.csv"
    res = runner.invoke(app, ["forecast", "--data", str(tmp_path / "hist.csv"), "--format", "retail-sales", "--horizon", "14",
                              "--future", str(tmp_path / "future.csv"), "--out", str(out), "--model", "weekday_median"])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out)
    assert list(got.columns) == ["Store", "Date", "Sales", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert len(got) == 3 * 14 and got.Date.min() == "2014-10-20"
    sundays = pd.to_datetime(got.Date).dt.day_of_week == 6
    assert (got.Sales[sundays] == 0).all() and (got.Sales[~sundays] > 0).all()
    res = runner.invoke(app, ["forecast", "--data", str(tmp_path / "hist.csv"), "--format", "retail-sales", "--horizon", "99",
                              "--future", str(tmp_path / "future.csv"), "--out", str(out)])
    assert res.exit_code == 2 and "the future file lacks" in res.output


def test_forecast_command_on_events(tmp_path: Path) -> None:
    url = _event_store(tmp_path / "shop.db")
    out = tmp_path / "items.csv"
    res = CliRunner().invoke(app, ["forecast", "--data", url, "--format", "events", "--horizon", "7", "--out", str(out),
                                   "--model", "weekday_median"])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out)
    assert list(got.columns[:3]) == ["item", "Date", "count"] and len(got) == 2 * 7
    a = got[got.item == "a"].set_index("Date")["count"]
    expect = np.where(pd.to_datetime(a.index).day_of_week == pd.Timestamp(T0 + 5 * DAY, unit="s").day_of_week, 6, 2)
    assert np.allclose(a.to_numpy(), expect)
