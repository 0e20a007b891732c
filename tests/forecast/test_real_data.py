"""The forecasters on the real files, small enough for the fast suite (the full figures: bench forecast / trend)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shopsage.data.importers import get_importer
from shopsage.data.importers.base import run_import
from shopsage.data.stores import open_store
from shopsage.forecast import (
    COVARIATES,
    DemandSeries,
    ForecasterConfig,
    point_forecast,
    read_retail_sales,
    rmspe,
)
from shopsage.forecast.trend_eval import store_window_counts, trend_backtest


def test_lightgbm_beats_the_weekday_median_on_five_real_stores(data_dir: Path) -> None:
    full = read_retail_sales(data_dir / "retail-sales" / "train.csv")
    assert len(full.ids) == 20 and full.frame.ds.min() == pd.Timestamp("2013-01-01")
    five = DemandSeries(full.frame[full.frame.unique_id.isin(["1", "2", "3", "4", "5"])].reset_index(drop=True),
                        "Store", "Sales")
    start = five.last_day - pd.Timedelta(days=27)
    train, test = five.until(start), five.since(start).frame
    future = test[["unique_id", "ds", *COVARIATES]]
    lgbm = rmspe(test.y.to_numpy(), point_forecast(train, future, ForecasterConfig(n_estimators=200)))
    median = rmspe(test.y.to_numpy(), point_forecast(train, future, ForecasterConfig(kind="weekday_median")))
    assert lgbm < 0.8 * median, (lgbm, median)


def test_the_trend_model_beats_the_served_count_on_yoochoose(data_dir: Path, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'yc.db'}")
    run_import(store, get_importer("yoochoose", str(data_dir / "yoochoose-100k")))
    wc, names = store_window_counts(store, 3600)
    store.close()
    assert wc.n_windows == 168 and len(names) == wc.counts.shape[1]
    report = trend_backtest(wc, others=())
    assert report.lift("served") >= 0.10, report.ndcg
