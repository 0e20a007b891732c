"""Known-in-advance features derived from the covariates: what the days around a day hold.

Shoppers buy ahead of a closed day and catch up after one, a promotion pulls sales forward from
the week before it, and a public holiday empties the days around it. These features describe the
neighbourhood of each day from the covariates alone (never from sales), so they are as known for
the forecast days as for the history, provided they are computed over history and future
together (:func:`neighbourhood`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopsage.forecast.series import COVARIATES

__all__ = ["FEATURES", "neighbourhood"]

FEATURES = ("closed_yesterday", "closed_tomorrow", "holiday_prev7", "holiday_next7", "promo_last_week",
            "promo_next_week", "promo_day")
"""The derived columns :func:`neighbourhood` adds."""


def _per_series(g: pd.DataFrame) -> pd.DataFrame:
    closed = 1 - g.open.to_numpy(np.int64)
    hol = (g.state_holiday.to_numpy() > 0).astype(np.int64)
    promo = g.promo.to_numpy(np.int64)
    n = len(g)

    def shift(a: np.ndarray, k: int, fill: int) -> np.ndarray:  # a[t - k] (k > 0: the past)
        out = np.full(n, fill, np.int64)
        if abs(k) >= n:  # a series shorter than the shift: nothing known
            return out
        if k > 0:
            out[k:] = a[: n - k]
        else:
            out[: n + k] = a[-k:]
        return out

    def window_sum(a: np.ndarray, before: bool) -> np.ndarray:  # sum over the 7 days before (after) t
        c = np.r_[0, np.cumsum(a)]
        idx = np.arange(n)
        if before:
            return c[idx] - c[np.maximum(idx - 7, 0)]
        return c[np.minimum(idx + 8, n)] - c[idx + 1]

    run_start = np.r_[True, promo[1:] != promo[:-1]]
    run_id = np.cumsum(run_start) - 1
    first = np.flatnonzero(run_start)
    promo_day = (np.arange(n) - first[run_id] + 1) * promo  # 1 on a promotion's first day, 0 outside
    return g.assign(closed_yesterday=shift(closed, 1, 0), closed_tomorrow=shift(closed, -1, 0),
                    holiday_prev7=window_sum(hol, True), holiday_next7=window_sum(hol, False),
                    promo_last_week=shift(promo, 7, 0), promo_next_week=shift(promo, -7, 0), promo_day=promo_day)


def neighbourhood(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (``unique_id, ds`` + :data:`COVARIATES`, one row per series and consecutive day)
    with :data:`FEATURES` added, computed within each series."""
    assert all(c in frame.columns for c in COVARIATES)
    frame = frame.sort_values(["unique_id", "ds"], kind="stable")
    parts = [_per_series(g) for _, g in frame.groupby("unique_id", sort=False)]
    out = pd.concat(parts) if parts else frame.assign(**{f: 0 for f in FEATURES})
    for f in FEATURES:
        out[f] = out[f].astype(np.int16)
    return out.reset_index(drop=True)
