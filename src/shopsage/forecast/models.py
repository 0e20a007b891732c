"""Point forecasters of daily demand: LightGBM through mlforecast, ARIMA through statsforecast, and
the two baselines every figure is reported beside.

Every forecaster maps a history (:class:`~shopsage.forecast.series.DemandSeries`) and the future
days' covariates to one number per future row; a closed day (``open = 0``) is forecast 0 and an
open day never below 0. The models work on ``log1p(y)`` (sales are multiplicative: a promotion
adds a share, not an amount), which is also what makes a squared error in log space close to the
percentage error that RMSPE scores.

- ``lgbm``: one LightGBM regressor over every series (``mlforecast``), features: the day's
  covariates and their neighbourhood (:mod:`~shopsage.forecast.features`), the calendar, the series,
  and the series' own level as lags of at least the horizon (so the whole horizon is forecast
  from observed values, never from its own forecasts): the values ``L``, ``L + 7`` and ``L + 14``
  days back and the means of the ``7 / 28 / 91 / 182 / 364`` days ending ``L`` days back, with ``L``
  the horizon rounded up to whole weeks. Closed days weigh 0 in training. A direct lag of 364 days
  was dropped: it cost every series its first year of training rows, and on the 42 days before the
  benchmark's held-out days RMSPE went from 0.1195 with it to 0.0944 without (docs/benchmarks.md).
- ``arima``: statsforecast's ``ARIMA(2,0,1)(1,0,1)_7`` per series with the covariates as regressors
  (``AutoARIMA``'s order search took about 40 s a store here, too slow to refit for intervals).
- ``seasonal_naive``: the last open day on the same weekday.
- ``weekday_median``: the median of the series' open days on the same weekday (a day without sales
  counts: for an item's daily purchases most days are 0).
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from shopsage.errors import ValidationError
from shopsage.forecast.features import FEATURES, neighbourhood
from shopsage.forecast.series import COVARIATES, DemandSeries

__all__ = ["ForecastKind", "FORECASTERS", "ForecasterConfig", "point_forecast"]

ForecastKind = Literal["lgbm", "arima", "seasonal_naive", "weekday_median"]
FORECASTERS: tuple[ForecastKind, ...] = ("lgbm", "arima", "seasonal_naive", "weekday_median")


class ForecasterConfig(BaseModel):
    """How to forecast (``shopsage forecast --model``; the benchmark compares the kinds)."""

    model_config = ConfigDict(extra="forbid")

    kind: ForecastKind = "lgbm"
    """The forecaster; ``lgbm`` is the default because it measured best (docs/benchmarks.md)."""
    levels: list[int] = Field(default_factory=lambda: [80, 95])
    """Prediction interval coverages in percent (columns ``lo_80, hi_80, ...``)."""
    interval_windows: int = Field(default=2, ge=1, le=10)
    """Trailing windows of one horizon each whose errors calibrate the intervals (split-conformal)."""
    n_estimators: int = Field(default=800, ge=10, le=10_000)
    """``lgbm``: boosting rounds."""
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    """``lgbm``: shrinkage."""
    num_leaves: int = Field(default=63, ge=2, le=4096)
    """``lgbm``: leaves per tree."""
    seed: int = 0
    """``lgbm``: bagging and feature-sampling seed."""
    season_length: int = Field(default=7, ge=1, le=366)
    """``arima``: the season in days."""


def _open(future: pd.DataFrame) -> np.ndarray:
    return future.open.to_numpy(np.float64)


def _weekday_median(history: DemandSeries, future: pd.DataFrame) -> np.ndarray:
    f = history.frame
    sold = f[f.open == 1]
    med = sold.groupby([sold.unique_id, sold.ds.dt.day_of_week]).y.median()
    any_med = sold.groupby("unique_id").y.median()
    key = pd.MultiIndex.from_arrays([future.unique_id, future.ds.dt.day_of_week])
    out = med.reindex(key).to_numpy()
    fallback = any_med.reindex(future.unique_id).to_numpy()
    return np.nan_to_num(np.where(np.isnan(out), fallback, out))


def _seasonal_naive(history: DemandSeries, future: pd.DataFrame) -> np.ndarray:
    f = history.frame
    sold = f[f.open == 1]
    last = sold.groupby([sold.unique_id, sold.ds.dt.day_of_week]).y.last()  # the frame is sorted by day
    last_any = sold.groupby("unique_id").y.last()
    key = pd.MultiIndex.from_arrays([future.unique_id, future.ds.dt.day_of_week])
    out = last.reindex(key).to_numpy()
    return np.nan_to_num(np.where(np.isnan(out), last_any.reindex(future.unique_id).to_numpy(), out))


def _with_features(history: DemandSeries, future: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    both = pd.concat([history.frame, future.assign(y=np.nan)], ignore_index=True)
    both = neighbourhood(both)
    codes = {u: i for i, u in enumerate(sorted(both.unique_id.unique()))}
    both["series"] = both.unique_id.map(codes).astype(np.int32)
    is_future = both.y.isna()
    return both[~is_future].reset_index(drop=True), both[is_future].reset_index(drop=True)


def _horizon(future: pd.DataFrame) -> int:
    per = future.groupby("unique_id").size()
    return int(per.max()) if len(per) else 0


def _lgbm(history: DemandSeries, future: pd.DataFrame, cfg: ForecasterConfig) -> np.ndarray:
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    h = _horizon(future)
    lag = max(7, -(-h // 7) * 7)  # the horizon in whole weeks: every lag is observed, never forecast
    train, fut = _with_features(history, future)
    train["y"] = np.log1p(train.y)
    train["weight"] = train.open.astype(np.float64)
    lags = [lag, lag + 7, lag + 14]
    longest = int(history.frame.groupby("unique_id").size().max())
    if longest <= lags[-1] + 7:
        raise ValidationError(f"lgbm needs more than {lags[-1] + 7} days of history for a {h}-day horizon (its lags reach "
                              f"{lags[-1]} days back); the longest series has {longest}: use --model weekday_median, or a "
                              "longer history" + (", or a shorter --horizon" if lag > 7 else ""))
    model = lgb.LGBMRegressor(n_estimators=cfg.n_estimators, learning_rate=cfg.learning_rate, num_leaves=cfg.num_leaves,
                              min_child_samples=10, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                              n_jobs=1, random_state=cfg.seed, verbose=-1)
    mf = MLForecast(models={"lgbm": model}, freq="D", lags=lags,
                    lag_transforms={lag: [RollingMean(w, min_samples=1) for w in (7, 28, 91, 182, 364)]},
                    date_features=["dayofweek", "day", "month", "dayofyear", "week", "year"])
    cols = ["unique_id", "ds", "y", "weight", "series", *COVARIATES, *FEATURES]
    with warnings.catch_warnings():  # mlforecast 1.0 calls pandas APIs that pandas 3 deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        mf.fit(train[cols], static_features=["series"], dropna=True, weight_col="weight")
        pred = mf.predict(h, X_df=fut[["unique_id", "ds", *COVARIATES, *FEATURES]])
    got = future[["unique_id", "ds"]].merge(pred, on=["unique_id", "ds"], how="left")
    return np.expm1(got.lgbm.to_numpy(np.float64))


def _arima(history: DemandSeries, future: pd.DataFrame, cfg: ForecasterConfig) -> np.ndarray:
    from statsforecast import StatsForecast
    from statsforecast.models import ARIMA

    train, fut = _with_features(history, future)
    regs = ["open", "promo", "school_holiday", "closed_yesterday", "closed_tomorrow", "promo_day"]
    train = train.assign(y=np.log1p(train.y), state_holiday=(train.state_holiday > 0).astype(np.int8))
    fut = fut.assign(state_holiday=(fut.state_holiday > 0).astype(np.int8))
    regs.append("state_holiday")
    model = ARIMA(order=(2, 0, 1), season_length=cfg.season_length, seasonal_order=(1, 0, 1), include_mean=True,
                  alias="arima")
    sf = StatsForecast(models=[model], freq="D", n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        pred = sf.forecast(df=train[["unique_id", "ds", "y", *regs]], h=_horizon(future),
                           X_df=fut[["unique_id", "ds", *regs]])
    got = future[["unique_id", "ds"]].merge(pred, on=["unique_id", "ds"], how="left")
    return np.expm1(got.arima.to_numpy(np.float64))


def point_forecast(history: DemandSeries, future: pd.DataFrame, cfg: ForecasterConfig) -> np.ndarray:
    """``(len(future),)`` forecasts of ``y`` for the rows of ``future`` (``unique_id, ds`` + the
    covariates, consecutive days right after each series' history); 0 on closed days."""
    if len(future) == 0:
        return np.zeros(0)
    unknown = set(future.unique_id) - set(history.frame.unique_id)
    if unknown:
        raise ValidationError(f"{len(unknown)} series of the future have no history (first: {sorted(unknown)[0]}); "
                              "forecast only series the history holds")
    if cfg.kind == "weekday_median":
        raw = _weekday_median(history, future)
    elif cfg.kind == "seasonal_naive":
        raw = _seasonal_naive(history, future)
    elif cfg.kind == "arima":
        raw = _arima(history, future, cfg)
    else:
        raw = _lgbm(history, future, cfg)
    return np.clip(np.nan_to_num(raw), 0.0, None) * _open(future)
