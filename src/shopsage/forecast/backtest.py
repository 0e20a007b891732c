"""The trailing-horizon backtest behind ``shopsage bench forecast``: every forecaster kind on the same
held-out last ``horizon`` days, scored as the served forecast is (:func:`~shopsage.forecast.forecaster.forecast`,
intervals included).

The held-out days' covariates (open, promotions, holidays) are given, as the competition gave
them; their sales are not. Each forecaster calibrates its intervals on the days before them only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shopsage.forecast.forecaster import forecast
from shopsage.forecast.metrics import coverage, rmspe
from shopsage.forecast.models import ForecasterConfig, ForecastKind, point_forecast
from shopsage.forecast.series import COVARIATES, DemandSeries

__all__ = ["KindScore", "BacktestReport", "backtest", "write_backtest_report"]


@dataclass
class KindScore:
    kind: str
    rmspe: float
    coverage: dict[str, float]
    """Share of scored days inside each interval (``"80"`` -> 0.81)."""
    seconds: float
    """Wall time of the forecast with its intervals (the refits included)."""


@dataclass
class BacktestReport:
    data: str
    series: int
    horizon: int
    first_day: str
    last_day: str
    scored_days: int
    baseline: str
    scores: list[KindScore] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)

    def score(self, kind: str) -> KindScore:
        return next(s for s in self.scores if s.kind == kind)

    def improvement(self, kind: str) -> float:
        """How much lower ``kind``'s RMSPE is than the baseline's, as a fraction of the baseline's."""
        return 1.0 - self.score(kind).rmspe / self.score(self.baseline).rmspe


def backtest(series: DemandSeries, horizon: int, kinds: Sequence[ForecastKind], base: ForecasterConfig | None = None,
             baseline: str = "weekday_median", data: str = "", log: Callable[[str], None] = lambda _m: None,
             intervals: bool = True) -> BacktestReport:
    """Hold out the last ``horizon`` days of ``series`` and score every kind on them (``intervals=False``:
    the point forecasts alone, a third of the fits; coverage is then empty)."""
    base = base or ForecasterConfig()
    start = series.last_day - pd.Timedelta(days=horizon - 1)
    train, test = series.until(start), series.since(start)
    test_frame = test.frame[test.frame.unique_id.isin(set(train.frame.unique_id))].reset_index(drop=True)
    report = BacktestReport(data, len(train.ids), horizon, f"{start:%Y-%m-%d}", f"{series.last_day:%Y-%m-%d}",
                            int((test_frame.y > 0).sum()), baseline)
    for kind in dict.fromkeys([*kinds, baseline]):
        cfg = base.model_copy(update={"kind": kind})
        t0 = time.perf_counter()
        future = test_frame[["unique_id", "ds", *COVARIATES]]
        out = forecast(train, future, cfg) if intervals else future.assign(point=point_forecast(train, future, cfg))
        seconds = time.perf_counter() - t0
        y = test_frame.y.to_numpy()
        cov = {str(level): round(coverage(y, out[f"lo_{level}"].to_numpy(), out[f"hi_{level}"].to_numpy()), 4)
               for level in cfg.levels} if intervals else {}
        report.scores.append(KindScore(kind, round(rmspe(y, out.point.to_numpy()), 5), cov, round(seconds, 1)))
        log(f"{kind}: RMSPE {report.scores[-1].rmspe:.4f}, coverage {cov}, {seconds:.1f} s")
    return report


def write_backtest_report(report: BacktestReport, json_path: Path, command: str) -> Path:
    """The JSON report and a Markdown table beside it (``.md``); returns the Markdown path."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    body = {**asdict(report), "command": command,
            "improvement_over_baseline": {s.kind: round(report.improvement(s.kind), 4) for s in report.scores}}
    json_path.write_text(json.dumps(body, indent=2), encoding="utf-8")
    levels = list(next((s.coverage for s in report.scores if s.coverage), {}))
    lines = [f"`{command}`", "",
             f"{report.series} series, held-out days {report.first_day} to {report.last_day} ({report.horizon} days, "
             f"{report.scored_days} scored days with sales > 0); baseline {report.baseline}.", "",
             "| " + " | ".join(["forecaster", "RMSPE", "vs baseline", *[f"{lv}% interval coverage" for lv in levels],
                                 "seconds"]) + " |",
             "|" + "---|" * (4 + len(levels))]
    for s in report.scores:
        cov = [f"{s.coverage[lv]:.3f}" if lv in s.coverage else "-" for lv in levels]
        cells = [s.kind, f"{s.rmspe:.4f}", f"{report.improvement(s.kind):+.1%}", *cov, f"{s.seconds:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    md = json_path.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md
