"""Demand and trend forecasting: daily demand per store, item or category with prediction
intervals (:func:`forecast`), its backtest (:func:`backtest`), the next-window popularity model
that serves ``trending`` (:mod:`shopsage.forecast.trend`, :mod:`shopsage.forecast.live`) and the
stock facts of merchant rules (:mod:`shopsage.forecast.stock`).

The names below load their module on first use: the service imports the trend and stock modules on
every start, and they must not pull pandas and the forecasting libraries in with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopsage.forecast.backtest import BacktestReport, backtest, write_backtest_report
    from shopsage.forecast.forecaster import forecast
    from shopsage.forecast.metrics import coverage, rmspe
    from shopsage.forecast.models import FORECASTERS, ForecasterConfig, ForecastKind, point_forecast
    from shopsage.forecast.series import (
        COVARIATES,
        DemandSeries,
        assumed_future,
        check_future,
        events_series,
        read_retail_future,
        read_retail_sales,
    )

_WHERE = {"BacktestReport": "backtest", "backtest": "backtest", "write_backtest_report": "backtest",
          "forecast": "forecaster", "coverage": "metrics", "rmspe": "metrics", "FORECASTERS": "models",
          "ForecasterConfig": "models", "ForecastKind": "models", "point_forecast": "models", "COVARIATES": "series",
          "DemandSeries": "series", "assumed_future": "series", "check_future": "series", "events_series": "series",
          "read_retail_future": "series", "read_retail_sales": "series"}

__all__ = ["COVARIATES", "FORECASTERS", "BacktestReport", "DemandSeries", "ForecastKind", "ForecasterConfig",
           "assumed_future", "backtest", "check_future", "coverage", "events_series", "forecast", "point_forecast",
           "read_retail_future", "read_retail_sales", "rmspe", "write_backtest_report"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'shopsage.forecast' has no attribute {name!r}")
    return getattr(importlib.import_module(f"shopsage.forecast.{_WHERE[name]}"), name)
