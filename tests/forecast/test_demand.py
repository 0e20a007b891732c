"""Demand forecasting: RMSPE, the baselines and LightGBM on synthetic series with known answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopsage.errors import ImportFormatError, ValidationError
from shopsage.forecast import (
    COVARIATES,
    DemandSeries,
    ForecasterConfig,
    check_future,
    coverage,
    forecast,
    point_forecast,
    read_retail_sales,
    rmspe,
)
from shopsage.forecast.features import neighbourhood


def _split(series: DemandSeries, horizon: int) -> tuple[DemandSeries, pd.DataFrame]:
    start = series.last_day - pd.Timedelta(days=horizon - 1)
    return series.until(start), series.since(start).frame


def test_rmspe_scores_only_days_with_sales() -> None:
    y = np.array([100.0, 200.0, 0.0])
    p = np.array([110.0, 180.0, 50.0])  # errors of 10% and 10%; the day without sales is not scored
    assert rmspe(y, p) == pytest.approx(0.1)
    assert rmspe(np.array([100.0, 400.0]), np.array([100.0, 200.0])) == pytest.approx(np.sqrt((0 + 0.25) / 2))
    assert np.isnan(rmspe(np.zeros(3), np.ones(3)))
    assert coverage(np.array([1.0, 5.0, 0.0]), np.array([0.0, 6.0, 0.0]), np.array([2.0, 7.0, 0.0])) == 0.5


def test_baselines_repeat_an_exact_weekly_pattern(retail: Callable[..., Path]) -> None:
    series = read_retail_sales(retail(days=140))
    train, test = _split(series, 28)
    for kind in ("weekday_median", "seasonal_naive"):
        p = point_forecast(train, test[["unique_id", "ds", *COVARIATES]], ForecasterConfig(kind=kind))
        assert rmspe(test.y.to_numpy(), p) == pytest.approx(0.0, abs=1e-3), kind
        assert (p[test.open.to_numpy() == 0] == 0).all()


def test_lightgbm_learns_the_promotion_the_weekday_median_misses(retail: Callable[..., Path]) -> None:
    series = read_retail_sales(retail(days=480, noise=0.03, promo_lift=1.3, seed=1))
    train, test = _split(series, 28)
    future = test[["unique_id", "ds", *COVARIATES]]
    cfg = ForecasterConfig(n_estimators=150, interval_windows=1)
    out = forecast(train, future, cfg)
    y = test.y.to_numpy()
    lgbm = rmspe(y, out.point.to_numpy())
    median = rmspe(y, point_forecast(train, future, ForecasterConfig(kind="weekday_median")))
    assert lgbm < 0.08 and lgbm < 0.6 * median, (lgbm, median)
    closed = test.open.to_numpy() == 0
    assert (out.point.to_numpy()[closed] == 0).all() and (out.hi_95.to_numpy()[closed] == 0).all()
    assert (out.lo_95 <= out.lo_80).all() and (out.lo_80 <= out.point).all() and (out.point <= out.hi_80).all()
    assert (out.hi_80 <= out.hi_95).all()
    assert 0.6 <= coverage(y, out.lo_95.to_numpy(), out.hi_95.to_numpy()) <= 1.0


def test_missing_days_are_closed_and_bad_files_say_what_to_fix(retail: Callable[..., Path]) -> None:
    frame = pd.read_csv(retail("all.csv", n_stores=1, days=30), dtype={"StateHoliday": str})
    gap = frame[~frame.Date.isin(["2014-01-10", "2014-01-11"])]
    series = read_retail_sales(retail("gap.csv", frame=gap))
    filled = series.frame.set_index("ds").loc[["2014-01-10", "2014-01-11"]]
    assert (filled.open == 0).all() and (filled.y == 0).all() and len(series.frame) == 30
    bad = frame.assign(StateHoliday="x")
    with pytest.raises(ImportFormatError, match="StateHoliday must be 0, a, b or c"):
        read_retail_sales(retail("bad.csv", frame=bad))
    with pytest.raises(ImportFormatError, match="lacks Promo"):
        read_retail_sales(retail("short.csv", frame=frame.drop(columns=["Promo"])))
    future = series.frame.iloc[:0][["unique_id", "ds", *COVARIATES]]
    with pytest.raises(ValidationError, match="the future file lacks 7 of the 7"):
        check_future(series, future, 7)


def test_neighbourhood_features_read_the_covariates_around_each_day() -> None:
    days = pd.date_range("2024-01-01", periods=10, freq="D")
    f = pd.DataFrame({"unique_id": "a", "ds": days, "open": [1, 1, 0, 1, 1, 1, 1, 1, 1, 1],
                      "promo": [0, 1, 1, 1, 0, 0, 0, 0, 0, 0], "state_holiday": [0] * 9 + [1], "school_holiday": 0})
    out = neighbourhood(f)
    assert out.closed_tomorrow.tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert out.closed_yesterday.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert out.promo_day.tolist() == [0, 1, 2, 3, 0, 0, 0, 0, 0, 0]
    assert out.holiday_next7.tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1, 0]
    assert out.promo_last_week.tolist() == [0] * 8 + [1, 1]


def test_weekly_rows_sum_the_daily_forecast(retail: Callable[..., Path]) -> None:
    series = read_retail_sales(retail(days=200, noise=0.05))
    train, test = _split(series, 21)
    future = test[["unique_id", "ds", *COVARIATES]]
    cfg = ForecasterConfig(kind="weekday_median", interval_windows=2)
    daily, weekly = forecast(train, future, cfg), forecast(train, future, cfg, weekly=True)
    monday = daily.ds - pd.to_timedelta(daily.ds.dt.day_of_week, unit="D")
    sums = daily.groupby([daily.unique_id, monday]).point.sum()
    assert (weekly.ds.dt.day_of_week == 0).all() and len(weekly) == len(sums)
    assert np.allclose(weekly.point.to_numpy(), sums.to_numpy())
    assert (weekly.lo_95 <= weekly.point).all() and (weekly.point <= weekly.hi_95).all()


def test_the_package_names_load_lazily() -> None:
    import shopsage.forecast as fc

    assert set(fc.__all__) == set(fc._WHERE) and fc.rmspe is rmspe


def test_series_shorter_than_a_week_get_features_and_a_clear_lgbm_refusal() -> None:
    f = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=3, freq="D"), "y": [1.0, 2.0, 3.0],
                      "open": 1, "promo": 0, "state_holiday": 0, "school_holiday": 0})
    assert neighbourhood(f).promo_last_week.tolist() == [0, 0, 0]
    short = DemandSeries(f, "item", "count")
    future = f[["unique_id", "ds", *COVARIATES]].assign(ds=f.ds + pd.Timedelta(days=3))
    with pytest.raises(ValidationError, match="lgbm needs more than 28 days of history"):
        point_forecast(short, future, ForecasterConfig())
