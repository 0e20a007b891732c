"""A forecast with prediction intervals: the point forecaster, calibrated on its own recent errors.

Intervals are split-conformal in log space, the same for every forecaster kind: the forecaster
is refitted ``interval_windows`` times, each time on the history up to one horizon earlier than
the last, and forecasts that horizon with the covariates that were known; its errors
``log1p(y) - log1p(yhat)`` on open days, pooled over series and windows, give the
interval of coverage ``l``: ``expm1(log1p(yhat) + q)`` for ``q`` the ``(1 - l) / 2`` and
``(1 + l) / 2`` quantiles of the errors. The errors are those of a forecast as far ahead as the one
served, so the width grows with the horizon the way the model's errors really do; working in log
space makes a store ten times larger get an interval ten times wider. Closed days are 0 with an
interval of 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopsage.errors import ValidationError
from shopsage.forecast.models import ForecasterConfig, point_forecast
from shopsage.forecast.series import COVARIATES, DemandSeries

__all__ = ["forecast", "conformal_errors"]


def _weekly(frame: pd.DataFrame, cols: list[str], by: list[str] | None = None) -> pd.DataFrame:
    """Sums of ``cols`` per series and week (weeks start on Monday; ``ds`` becomes the week's Monday). A
    week cut by the horizon sums the days the horizon holds."""
    week = frame.ds - pd.to_timedelta(frame.ds.dt.day_of_week, unit="D")
    keys = [*(by or []), "unique_id"]
    return frame.assign(ds=week).groupby([*keys, "ds"], sort=True)[cols].sum().reset_index()


def conformal_errors(history: DemandSeries, horizon: int, cfg: ForecasterConfig, weekly: bool = False) -> np.ndarray:
    """Log errors of ``cfg``'s forecasts over the last ``interval_windows`` horizons of ``history``
    (``weekly``: of the weekly sums of those forecasts)."""
    parts = []
    for w in range(1, cfg.interval_windows + 1):
        start = history.last_day - pd.Timedelta(days=w * horizon - 1)
        past, window = history.until(start), history.since(start)
        window = window.frame[window.frame.ds < start + pd.Timedelta(days=horizon)]
        window = window[window.unique_id.isin(set(past.frame.unique_id))]
        if past.frame.empty or window.empty:
            break
        pred = point_forecast(past, window[["unique_id", "ds", *COVARIATES]], cfg)
        parts.append(window[["unique_id", "ds", "y", "open"]].assign(pred=pred, w=w))
    if parts:
        both = pd.concat(parts, ignore_index=True)
        if weekly:
            both = _weekly(both, ["y", "pred", "open"], by=["w"])
        scored = (both.open.to_numpy() > 0) & (both.pred.to_numpy() > 0)  # a day without sales counts (items sell nothing most days)
        out = np.log1p(both.y.to_numpy()[scored]) - np.log1p(both.pred.to_numpy()[scored])
    else:
        out = np.zeros(0)
    if len(out) < 20:
        what = "series-weeks" if weekly else "days"
        raise ValidationError(f"the history is too short to calibrate prediction intervals ({len(out)} scored {what} in "
                              f"the last {cfg.interval_windows} horizons of {horizon} days): give a longer history, a "
                              "shorter --horizon, or fewer interval windows")
    return out


def forecast(history: DemandSeries, future: pd.DataFrame, cfg: ForecasterConfig | None = None,
             weekly: bool = False) -> pd.DataFrame:
    """``unique_id, ds, point`` and ``lo_L, hi_L`` per level of ``cfg.levels`` for each row of
    ``future`` (consecutive days right after the history, with the covariates); ``weekly``: one row per
    series and week instead (``ds`` its Monday), the daily forecasts summed and the intervals calibrated
    on weekly sums."""
    cfg = cfg or ForecasterConfig()
    horizon = int(future.groupby("unique_id").size().max()) if len(future) else 0
    point = point_forecast(history, future, cfg)
    out = future[["unique_id", "ds"]].assign(point=point)
    if weekly:
        out = _weekly(out, ["point"])
    point = out.point.to_numpy()
    errors = conformal_errors(history, horizon, cfg, weekly)
    log_point = np.log1p(point)
    is_open = point > 0
    for level in cfg.levels:
        if not 0 < level < 100:
            raise ValidationError(f"interval level {level} must be a percentage between 0 and 100")
        q_lo, q_hi = np.quantile(errors, [(1 - level / 100) / 2, (1 + level / 100) / 2])
        out[f"lo_{level}"] = np.where(is_open, np.clip(np.expm1(log_point + q_lo), 0, None), 0.0)
        out[f"hi_{level}"] = np.where(is_open, np.expm1(log_point + q_hi), 0.0)
    return out
