"""``shopsage forecast`` and ``shopsage bench forecast`` (thin: parse, call :mod:`shopsage.forecast`, print)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from shopsage.cli.bench import bench_app
from shopsage.cli.console import console, err_console, run_or_fail
from shopsage.cli.data_commands import config_of, default_store
from shopsage.errors import ConfigError

__all__ = ["forecast_command", "bench_forecast"]


def _levels(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--levels {text!r} must be comma-separated percentages, such as 80,95") from None


def forecast_command(
    ctx: typer.Context,
    data: str = typer.Option(None, "--data", help="retail-sales: the train.csv (Store,DayOfWeek,Date,Sales,...); events: "
                             "a store URL or SQLite store file (default: the home's store)."),
    fmt: str = typer.Option(..., "--format", help="retail-sales or events."),
    horizon: int = typer.Option(..., "--horizon", min=1, max=366, help="Days to forecast after the history's last day."),
    future: Path = typer.Option(None, "--future", help="retail-sales: the forecast days' Store,Date,Open,Promo,StateHoliday,"
                                "SchoolHoliday (without it: open as in the last 4 weeks, no promotion, no holiday)."),
    out: Path = typer.Option(..., "--out", help="The CSV to write: <Store|item|category>,Date,<Sales|count>,lo_80,hi_80,..."),
    model: str = typer.Option("lgbm", "--model", help="lgbm (default), arima, seasonal_naive or weekday_median."),
    level: str = typer.Option("item", "--level", help="events: item or category (its top-level category)."),
    types: str = typer.Option(None, "--types", help="events: comma-separated event types to count (default: all)."),
    min_events: int = typer.Option(5, "--min-events", min=1, help="events: leave out series with fewer events."),
    levels: str = typer.Option("80,95", "--levels", help="Prediction interval coverages in percent."),
    weekly: bool = typer.Option(False, "--weekly", help="One row per series and week (Date: its Monday), the daily "
                                "forecasts summed, intervals calibrated on weekly sums."),
) -> None:
    """Forecast daily demand per store (retail-sales) or per item or category (the shop's own events), with
    prediction intervals."""
    from shopsage.forecast import FORECASTERS, ForecasterConfig, forecast
    from shopsage.forecast.io import future_for, load_history, write_forecast

    if fmt not in ("retail-sales", "events"):
        raise typer.BadParameter(f"unknown format {fmt!r}; use retail-sales or events", param_hint="--format")
    if model not in FORECASTERS:
        raise typer.BadParameter(f"unknown model {model!r}; use one of {', '.join(FORECASTERS)}", param_hint="--model")
    if level not in ("item", "category"):
        raise typer.BadParameter("use item or category", param_hint="--level")
    if fmt == "retail-sales" and data is None:
        raise typer.BadParameter("retail-sales needs the train.csv", param_hint="--data")
    if fmt == "events" and future is not None:
        raise typer.BadParameter("--future is for retail-sales (events have no planned covariates)", param_hint="--future")
    cfg = run_or_fail(lambda: ForecasterConfig(kind=model, levels=_levels(levels)))  # type: ignore[arg-type]
    source = data or default_store(ctx)
    series = run_or_fail(lambda: load_history(source, fmt, level, types.split(",") if types else None,  # type: ignore[arg-type]
                                              min_events))
    fut, assumed = run_or_fail(lambda: future_for(series, horizon, future))
    if assumed and fmt == "retail-sales":
        err_console.print("no --future: the forecast days are assumed open as in the last 4 weeks, without promotions "
                          "or holidays")
    frame = run_or_fail(lambda: forecast(series, fut, cfg, weekly))
    rows = write_forecast(out, series, frame)
    console.print(f"{out}: {rows:,} rows, {len(series.ids):,} series x {horizon} days{' by week' if weekly else ''} ({model}, intervals "
                  f"{', '.join(f'{lv}%' for lv in cfg.levels)})")


@bench_app.command("forecast")
def bench_forecast(
    ctx: typer.Context,
    data: Path = typer.Option(None, "--data", help="The retail-sales train.csv (default: <data dir>/retail-sales/train.csv)."),
    horizon: int = typer.Option(42, "--horizon", min=1, help="Trailing days held out (42: the Rossmann horizon)."),
    models: str = typer.Option("lgbm,arima,seasonal_naive,weekday_median", "--models", help="Forecasters to compare."),
    json_out: Path = typer.Option(..., "--json", help="Write the JSON report here, and a Markdown table beside it (.md)."),
    intervals: bool = typer.Option(True, "--intervals/--no-intervals", help="--no-intervals: score the point forecasts "
                                   "alone (a third of the fits: the heavy ARIMA fits fit a quiet run)."),
    before: int = typer.Option(0, "--before", min=0, help="Leave out the file's last DAYS days first: --before 42 scores "
                               "the 42 days before the benchmark's held-out days (where model choices are made)."),
) -> None:
    """Hold out the last --horizon days of a retail-sales file and score each forecaster on them (RMSPE
    as Kaggle scored it, interval coverage), beside the weekday-median baseline."""
    from shopsage.forecast import FORECASTERS, backtest, read_retail_sales, write_backtest_report

    kinds = [m for m in models.split(",") if m]
    unknown = [m for m in kinds if m not in FORECASTERS]
    if unknown:
        raise ConfigError(f"unknown --models {unknown}: use some of {', '.join(FORECASTERS)}")
    path = data or config_of(ctx).paths.data_dir / "retail-sales" / "train.csv"
    series = run_or_fail(lambda: read_retail_sales(path))
    if before:
        import pandas as pd

        series = series.until(series.last_day - pd.Timedelta(days=before - 1))
    report = run_or_fail(lambda: backtest(series, horizon, kinds, data=str(path),  # type: ignore[arg-type]
                                          log=lambda m: err_console.print(m), intervals=intervals))
    from shopsage.evaluate.machine import describe

    report.machine = describe()
    md = write_backtest_report(report, json_out, command="shopsage bench forecast " + " ".join(sys.argv[3:]))
    typer.echo(md.read_text(encoding="utf-8"))


@bench_app.command("trend")
def bench_trend(
    ctx: typer.Context,
    data: Path = typer.Option(None, "--data", help="Events with real timestamps to import (default: <data dir>/yoochoose-100k)."),
    fmt: str = typer.Option("yoochoose", "--format", help="Their import format (shopsage import's formats)."),
    window: int = typer.Option(3600, "--window", min=60, help="Seconds per window (3600: the next hour)."),
    k: int = typer.Option(20, "--k", min=1, help="NDCG cut-off."),
    json_out: Path = typer.Option(..., "--json", help="Write the JSON report here, and a Markdown table beside it (.md)."),
    refresh: bool = typer.Option(False, "--refresh", help="Time the live trend's refreshes instead: replay the events "
                                 "a window at a time into a scratch store; each window's read of what arrived, against "
                                 "a read of every stored event, and the whole refresh (JSON only)."),
    dp_epsilons: str = typer.Option(None, "--dp-epsilons", help="Score privacy.dp_trending instead: comma-separated "
                                    "epsilons per release (such as 0.1,0.5,1,2); each window ranked by the private "
                                    "release made before it, beside the same counts without noise and the served trending."),
    dp_repeats: int = typer.Option(5, "--dp-repeats", min=1, help="--dp-epsilons: noise draws per epsilon (mean and spread)."),
    max_contributions: int = typer.Option(None, "--max-contributions", min=1, help="--dp-epsilons: items one shopper "
                                          "counts toward (default: privacy.budget.max_contributions)."),
    dp_release_s: float = typer.Option(None, "--dp-release-s", min=60, help="--dp-epsilons: seconds between two releases, "
                                       "each served until the next (default: privacy.trending_release_s)."),
    dp_window_s: float = typer.Option(None, "--dp-window-s", min=0, help="--dp-epsilons: seconds of events a release "
                                      "counts, 0 for all before it (default: privacy.trending_window_s)."),
) -> None:
    """Import the events into a scratch SQLite store, then rank each window's items by the trend model and by
    the count trending served before, scored by NDCG@k against the window's actual counts (--dp-epsilons: by
    the private trending releases instead)."""
    import tempfile

    from shopsage.data.importers import get_importer
    from shopsage.data.importers.base import run_import
    from shopsage.data.stores import open_store
    from shopsage.evaluate.machine import describe
    from shopsage.forecast.trend import TrendConfig
    from shopsage.forecast.trend_eval import store_window_counts, trend_backtest, write_trend_report

    root = data or config_of(ctx).paths.data_dir / "yoochoose-100k"
    if refresh:
        _refresh_timing(root, fmt, window, json_out)
        return
    if dp_epsilons is not None:
        _dp_trending(ctx, root, fmt, window, k, json_out, run_or_fail(lambda: _epsilons(dp_epsilons)), dp_repeats,
                     max_contributions, dp_release_s, dp_window_s)
        return
    with tempfile.TemporaryDirectory() as tmp:
        store = run_or_fail(lambda: open_store(f"sqlite:///{Path(tmp) / 'trend.db'}"))
        try:
            run_or_fail(lambda: run_import(store, get_importer(fmt, str(root))))
            wc, _ = run_or_fail(lambda: store_window_counts(store, window))
        finally:
            store.close()
    report = run_or_fail(lambda: trend_backtest(wc, k, TrendConfig(window_s=window), data=str(root),
                                                log=lambda m: err_console.print(m)))
    report.machine = describe()
    md = write_trend_report(report, json_out, command="shopsage bench trend " + " ".join(sys.argv[3:]))
    typer.echo(md.read_text(encoding="utf-8"))


def _epsilons(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--dp-epsilons {text!r} must be comma-separated positive numbers, such as 0.1,0.5,1,2") from None


def _dp_trending(ctx: typer.Context, root: Path, fmt: str, window: int, k: int, json_out: Path, epsilons: list[float],
                 repeats: int, max_contributions: int | None, release_s: float | None,
                 window_s: float | None = None) -> None:
    """``bench trend --dp-epsilons`` (:func:`shopsage.forecast.trend_eval.dp_trending_backtest`)."""
    import tempfile

    from shopsage.data.importers import get_importer
    from shopsage.data.importers.base import run_import
    from shopsage.data.stores import open_store
    from shopsage.evaluate.machine import describe
    from shopsage.forecast.trend import TrendConfig
    from shopsage.forecast.trend_eval import dp_trending_backtest, write_dp_trending_report

    privacy = config_of(ctx).privacy
    contributions = max_contributions or privacy.budget.max_contributions
    every = release_s or privacy.trending_release_s
    counted = privacy.trending_window_s if window_s is None else window_s
    with tempfile.TemporaryDirectory() as tmp:
        store = run_or_fail(lambda: open_store(f"sqlite:///{Path(tmp) / 'trend.db'}"))
        try:
            run_or_fail(lambda: run_import(store, get_importer(fmt, str(root))))
            report = run_or_fail(lambda: dp_trending_backtest(store, window, epsilons, k, contributions, repeats, every,
                                                              counted, TrendConfig(window_s=window), data=str(root),
                                                              log=lambda m: err_console.print(m)))
        finally:
            store.close()
    report.machine = describe()
    md = write_dp_trending_report(report, json_out, command="shopsage bench trend " + " ".join(sys.argv[3:]))
    typer.echo(md.read_text(encoding="utf-8"))


def _refresh_timing(root: Path, fmt: str, window: int, json_out: Path) -> None:
    """``bench trend --refresh`` (:func:`shopsage.forecast.trend_eval.refresh_timing`)."""
    import json
    import tempfile

    from shopsage.data.importers import get_importer
    from shopsage.data.rows import EventBlock, EventRow
    from shopsage.data.stores import open_store
    from shopsage.evaluate.machine import describe
    from shopsage.forecast.trend import TrendConfig
    from shopsage.forecast.trend_eval import refresh_timing

    records = run_or_fail(lambda: list(get_importer(fmt, str(root)).records()))
    rows = [r for r in records if isinstance(r, EventRow)]
    rows += [r for b in records if isinstance(b, EventBlock) for r in b.rows()]
    with tempfile.TemporaryDirectory() as tmp:
        store = run_or_fail(lambda: open_store(f"sqlite:///{Path(tmp) / 'trend.db'}"))
        try:
            out = run_or_fail(lambda: refresh_timing(store, rows, TrendConfig(window_s=window),
                                                     log=lambda m: err_console.print(m)))
        finally:
            store.close()
    out = {**out, "data": str(root), "machine": describe(), "command": "shopsage bench trend " + " ".join(sys.argv[3:])}
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    typer.echo(json.dumps({k: v for k, v in out.items() if k != "per_window"}, indent=2))
