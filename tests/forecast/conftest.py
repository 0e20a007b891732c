"""Synthetic retail-sales files with known answers for the forecasting tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

WEEKDAY = np.array([1.0, 0.9, 0.85, 0.95, 1.2, 1.1, 0.0])  # Monday..Sunday (closed on Sundays)


def retail_frame(n_stores: int = 3, days: int = 420, noise: float = 0.0, promo_lift: float = 1.0, seed: int = 0,
                 start: str = "2014-01-06") -> pd.DataFrame:
    """Rossmann-style rows: sales = level x weekday factor x (promo_lift on promotion weeks) x noise;
    closed (0 sales) on Sundays; promotions Monday to Friday of every other week."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    rows = []
    for s in range(1, n_stores + 1):
        level = 4000.0 + 1500.0 * s
        for k, d in enumerate(dates):
            dow = d.day_of_week
            is_open = int(dow != 6)
            promo = int(is_open and dow < 5 and (k // 7) % 2 == 0)
            sales = level * WEEKDAY[dow] * (promo_lift if promo else 1.0) * float(np.exp(rng.normal(0, noise)))
            rows.append((s, dow + 1, d.strftime("%Y-%m-%d"), round(sales * is_open), 0, is_open, promo, "0", 0))
    return pd.DataFrame(rows, columns=["Store", "DayOfWeek", "Date", "Sales", "Customers", "Open", "Promo",
                                       "StateHoliday", "SchoolHoliday"])


def write_retail(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture()
def retail(tmp_path: Path):  # noqa: ANN201 - a factory
    """``retail(name, **retail_frame options)`` -> the path of a written train.csv (``frame=`` to give one)."""

    def make(name: str = "train.csv", frame: pd.DataFrame | None = None, **kw: object) -> Path:
        return write_retail(tmp_path / name, frame if frame is not None else retail_frame(**kw))  # type: ignore[arg-type]

    return make
