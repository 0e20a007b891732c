"""A/B test analysis: rates with delta-method intervals, the sample-ratio check, an always-valid test.

Every metric is a ratio of per-unit sums, ``R = sum(y) / sum(x)`` (clicks per item shown, purchases
per session...; :data:`~shopsage.evaluate.abtest_data.METRIC_PARTS`). Units (users, else sessions)
are independent, their items and sessions are not, so the variance comes from the delta method
(Deng, Knoblich and Lu, "Applying the delta method in metric analytics", KDD 2018)::

    Var(R) ~ (s_yy - 2 R s_xy + R^2 s_xx) / (n * mean(x)^2)

with plug-in (ddof 0) moments: with one trial per unit it is exactly the Wald variance of a
proportion, ``p (1 - p) / n`` (tests compare it with statsmodels). A variant's difference from the
baseline (the first variant) has ``Var = Var(R_b) + Var(R_a)``; its relative lift ``R_b / R_a - 1``
is delta-approximated the same way. Fixed-horizon p-values are two-sided normal tails (scipy).

**Sample ratio mismatch**: a chi-square goodness-of-fit test (scipy) of units per variant against the
configured weights; p < 0.001 means the split is broken and no other figure can be trusted.

**Peeking** at a fixed-horizon p-value inflates false positives (every look is another chance). The
decision instead uses the mixture sequential probability ratio test (mSPRT, Johari, Koomen, Pekelis
and Walsh, "Always valid inference", Operations Research 2022) with a normal mixture
``theta ~ N(0, tau^2)`` over the difference ``theta``; with ``V`` its delta-method variance::

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * theta_hat^2 / (2 V (V + tau^2)))

and the always-valid p-value is the running minimum of ``min(1, 1 / Lambda)`` over every look.
Rejecting when it drops below alpha keeps false positives at or below alpha however often one looks
(Ville's inequality). ``tau`` is the smallest effect worth detecting (``min_lift * baseline``).
The test costs sample size: :func:`plan_sample_size` plans for it (a statsmodels power calculation
at the level the mSPRT's boundary has at the planned size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chisquare, norm

from shopsage.errors import ValidationError
from shopsage.evaluate.abtest_data import METRIC_PARTS, Contributions, UnitTotals
from shopsage.experiments.plan import MAX_PLANNED_UNITS, Plan, msprt_boundary_z, plan_sample_size

__all__ = ["RatioEstimate", "Comparison", "Plan", "SequentialPath", "ratio_estimate", "compare", "srm_check",
           "msprt_log_lambda", "msprt_boundary_z", "plan_sample_size", "sequential_path", "analyse",
           "SRM_THRESHOLD", "MIN_UNITS", "MAX_PLANNED_UNITS"]

SRM_THRESHOLD = 0.001
"""A sample-ratio p-value below this flags a broken split (the usual industry threshold)."""
MIN_UNITS = 100
"""Looks before every variant has this many units are skipped: the normal approximation behind the
delta method and the mSPRT needs some data (the first look of a simulated shop is at 1,000 sessions)."""


@dataclass(frozen=True)
class RatioEstimate:
    value: float
    variance: float
    n: int

    def interval(self, alpha: float = 0.05) -> tuple[float, float]:
        half = float(norm.ppf(1 - alpha / 2)) * math.sqrt(self.variance)
        return self.value - half, self.value + half


def ratio_estimate(y: np.ndarray, x: np.ndarray) -> RatioEstimate:
    """``sum(y) / sum(x)`` over units and its delta-method variance (plug-in moments)."""
    n = int(len(x))
    sx = float(np.sum(x))
    if n == 0 or sx <= 0:
        return RatioEstimate(float("nan"), float("nan"), n)
    mx, my = sx / n, float(np.sum(y)) / n
    r = my / mx
    vy, vx = float(np.var(y)), float(np.var(x))
    cxy = float(np.mean((y - my) * (x - mx)))
    return RatioEstimate(r, max(vy - 2 * r * cxy + r * r * vx, 0.0) / (n * mx * mx), n)


def _moments_variance(n: np.ndarray, sy: np.ndarray, sx: np.ndarray, syy: np.ndarray, sxx: np.ndarray,
                      sxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ratio_estimate` from running sums (vectorised over looks): ``(ratio, variance)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mx, my = sx / n, sy / n
        r = sy / sx
        vy, vx, cxy = syy / n - my * my, sxx / n - mx * mx, sxy / n - mx * my
        var = np.maximum(vy - 2 * r * cxy + r * r * vx, 0.0) / (n * mx * mx)
    return r, var


@dataclass(frozen=True)
class Comparison:
    """A variant against the baseline: absolute difference and relative lift with intervals, p-value."""

    diff: float
    diff_ci: tuple[float, float]
    lift: float
    lift_ci: tuple[float, float]
    p_value: float


def compare(a: RatioEstimate, b: RatioEstimate, alpha: float = 0.05) -> Comparison:
    """``b`` against the baseline ``a`` (independent groups), fixed-horizon."""
    z = float(norm.ppf(1 - alpha / 2))
    diff, var = b.value - a.value, a.variance + b.variance
    se = math.sqrt(var) if var > 0 else float("nan")
    p = float(2 * norm.sf(abs(diff) / se)) if se > 0 else float("nan")
    lift = b.value / a.value - 1 if a.value else float("nan")
    lift_var = b.variance / a.value ** 2 + b.value ** 2 * a.variance / a.value ** 4 if a.value else float("nan")
    lse = math.sqrt(lift_var) if lift_var > 0 else float("nan")
    return Comparison(diff, (diff - z * se, diff + z * se), lift, (lift - z * lse, lift + z * lse), p)


def srm_check(counts: list[int], weights: list[float]) -> tuple[float, float]:
    """Chi-square goodness of fit of units per variant against the weights: ``(statistic, p_value)``."""
    total = sum(counts)
    if total == 0:
        return 0.0, 1.0
    w = np.asarray(weights, dtype=np.float64)
    res = chisquare(np.asarray(counts, dtype=np.float64), f_exp=total * w / w.sum())
    return float(res.statistic), float(res.pvalue)


def msprt_log_lambda(diff: np.ndarray | float, var: np.ndarray | float, tau2: float) -> np.ndarray:
    """log of the normal-mixture likelihood ratio for ``theta = 0`` against ``theta ~ N(0, tau2)``."""
    d, v = np.asarray(diff, dtype=np.float64), np.asarray(var, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 0.5 * np.log(v / (v + tau2)) + tau2 * d * d / (2 * v * (v + tau2))
    return np.where(np.isfinite(out) & (v > 0), out, 0.0)


@dataclass
class SequentialPath:
    """The looks of one comparison: sessions so far, estimates and the always-valid p-value after each."""

    sessions: np.ndarray
    units_a: np.ndarray
    units_b: np.ndarray
    diff: np.ndarray
    variance: np.ndarray
    p_always_valid: np.ndarray
    p_fixed: np.ndarray

    def first_rejection(self, alpha: float) -> int | None:
        """Index of the first look whose always-valid p-value is at most ``alpha`` (None: none)."""
        hit = np.flatnonzero(self.p_always_valid <= alpha)
        return int(hit[0]) if len(hit) else None


def _running_sums(c: Contributions, y: np.ndarray, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row, the running (n, sum y, sum x, sum y^2, sum x^2, sum xy) over the units of ``mask`` with
    every unit's values as they stood after that row: (R, 6)."""
    order = np.argsort(c.unit, kind="stable")
    u = c.unit[order]
    start = np.r_[True, u[1:] != u[:-1]]
    group = np.cumsum(start) - 1
    prev = []
    for v in (y, x):
        cs = np.cumsum(v[order])
        before = cs - v[order]
        before = before - before[np.flatnonzero(start)][group]  # unit's value before this row
        out = np.empty_like(before)
        out[order] = before
        prev.append(out)
    py, px = prev
    first = np.zeros(len(c), bool)
    first[order[start]] = True
    inc = np.stack([first.astype(np.float64), y, x, 2 * py * y + y * y, 2 * px * x + x * x,
                    px * y + py * x + x * y], axis=1)
    inc[~mask] = 0.0
    return np.cumsum(inc, axis=0)


def sequential_path(c: Contributions, metric: str, a: int, b: int, tau: float, peek_every: int = 1000,
                    min_units: int = MIN_UNITS) -> SequentialPath:
    """Replay the experiment in time order and look after every ``peek_every`` sessions (and at the end):
    variant ``b`` against ``a`` on ``metric``, with the mSPRT's always-valid p-value at each look."""
    num, den = METRIC_PARTS[metric]
    y, x = c.columns[num], c.columns[den]
    sums_a = _running_sums(c, y, x, c.variant == a)
    sums_b = _running_sums(c, y, x, c.variant == b)
    sessions = np.cumsum(c.columns["sessions"])
    total = int(sessions[-1]) if len(c) else 0
    marks = np.arange(peek_every, total + 1, peek_every)
    rows = np.unique(np.r_[np.searchsorted(sessions, marks), len(c) - 1]) if len(c) else np.zeros(0, np.int64)
    rows = rows[(rows >= 0) & (rows < len(c))]
    ra, va = _moments_variance(*sums_a[rows].T)
    rb, vb = _moments_variance(*sums_b[rows].T)
    diff, var = rb - ra, va + vb
    ok = (sums_a[rows, 0] >= min_units) & (sums_b[rows, 0] >= min_units) & np.isfinite(diff) & (var > 0)
    log_l = np.where(ok, msprt_log_lambda(np.where(ok, diff, 0.0), np.where(ok, var, 1.0), tau * tau), 0.0)
    p_av = np.minimum.accumulate(np.minimum(1.0, np.exp(-log_l)))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_fixed = np.where(ok, 2 * norm.sf(np.abs(diff) / np.sqrt(var)), 1.0)
    return SequentialPath(sessions[rows], sums_a[rows, 0], sums_b[rows, 0], diff, var, p_av, p_fixed)


def _variant_summary(t: UnitTotals, k: int, alpha: float) -> dict[str, Any]:
    sel = t.variant == k
    out: dict[str, Any] = {"units": int(sel.sum())}
    out.update({col: float(t.column(col)[sel].sum()) for col in t.columns})
    for metric, (num, den) in METRIC_PARTS.items():
        est = ratio_estimate(t.column(num)[sel], t.column(den)[sel])
        low, high = est.interval(alpha)
        out[metric] = {"value": est.value, "ci_low": low, "ci_high": high}
    return out


def analyse(c: Contributions, weights: list[float], metric: str, baseline: float, min_lift: float,
            alpha: float = 0.05, peek_every: int = 1000) -> dict[str, Any]:
    """The report of one experiment: per variant, every metric with its interval; per non-baseline variant,
    every metric's difference, lift, interval and fixed-horizon p-value, and on the primary ``metric``
    the mSPRT's always-valid p-value and decision; the sample-ratio check over units."""
    if metric not in METRIC_PARTS:
        raise ValidationError(f"unknown metric {metric!r}; use one of {', '.join(METRIC_PARTS)}")
    t = c.totals()
    tau = baseline * min_lift
    variants = {name: _variant_summary(t, k, alpha) for k, name in enumerate(c.variants)}
    counts = [variants[v]["units"] for v in c.variants]
    chi2, p_srm = srm_check(counts, weights)
    comparisons: dict[str, Any] = {}
    for k in range(1, len(c.variants)):
        a_sel, b_sel = t.variant == 0, t.variant == k
        per_metric = {}
        for m, (num, den) in METRIC_PARTS.items():
            cmp = compare(ratio_estimate(t.column(num)[a_sel], t.column(den)[a_sel]),
                          ratio_estimate(t.column(num)[b_sel], t.column(den)[b_sel]), alpha)
            per_metric[m] = {"diff": cmp.diff, "diff_ci_low": cmp.diff_ci[0], "diff_ci_high": cmp.diff_ci[1],
                             "lift": cmp.lift, "lift_ci_low": cmp.lift_ci[0], "lift_ci_high": cmp.lift_ci[1],
                             "p_value": cmp.p_value}
        path = sequential_path(c, metric, 0, k, tau, peek_every)
        hit = path.first_rejection(alpha)
        p_av = float(path.p_always_valid[-1]) if len(path.sessions) else 1.0
        decision = "no decision yet" if hit is None else ("better" if path.diff[hit] > 0 else "worse")
        comparisons[c.variants[k]] = {
            "metrics": per_metric,
            "sequential": {"metric": metric, "p_always_valid": p_av, "decision": decision,
                           "decided_at_sessions": None if hit is None else int(path.sessions[hit]),
                           "looks": int(len(path.sessions)),
                           "path": {"sessions": path.sessions.tolist(), "diff": path.diff.tolist(),
                                    "variance": path.variance.tolist(),
                                    "p_always_valid": path.p_always_valid.tolist()}},
        }
    return {"baseline_variant": c.variants[0], "primary_metric": metric, "alpha": alpha, "tau": tau,
            "peek_every_sessions": peek_every, "sessions": int(c.columns["sessions"].sum()), "variants": variants,
            "comparisons": comparisons,
            "srm": {"units": dict(zip(c.variants, counts, strict=True)), "weights": list(weights), "chi2": chi2,
                    "p_value": p_srm, "mismatch": p_srm < SRM_THRESHOLD}}
