"""Forecast accuracy as the Rossmann competition scored it, and interval coverage.

RMSPE (root mean square percentage error) over the scored days, those with actual sales > 0
(Kaggle ignored closed days and days without sales, where a percentage is undefined):

    RMSPE = sqrt( mean_i ((y_i - yhat_i) / y_i) ^ 2 )    over i with y_i > 0
"""

from __future__ import annotations

import numpy as np

from shopsage.errors import ValidationError

__all__ = ["rmspe", "coverage"]


def rmspe(actual: np.ndarray, predicted: np.ndarray) -> float:
    """RMSPE over the days with ``actual > 0``; NaN when there are none."""
    y = np.asarray(actual, np.float64)
    p = np.asarray(predicted, np.float64)
    if y.shape != p.shape:
        raise ValidationError(f"actual {y.shape} and predicted {p.shape} must have the same shape")
    scored = y > 0
    if not scored.any():
        return float("nan")
    return float(np.sqrt(np.mean(((y[scored] - p[scored]) / y[scored]) ** 2)))


def coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """The share of the days with ``actual > 0`` whose actual lies within ``[lo, hi]``."""
    y = np.asarray(actual, np.float64)
    scored = y > 0
    if not scored.any():
        return float("nan")
    return float(np.mean((y[scored] >= np.asarray(lo)[scored]) & (y[scored] <= np.asarray(hi)[scored])))
